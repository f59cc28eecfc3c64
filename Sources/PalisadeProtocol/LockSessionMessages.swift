/// The header line of a lock session request (`Protocol/lock-sessions.md`): which lock API call
/// the message's body is for.
public struct LockSessionRequestHeader: Codable, Sendable, Equatable {
    /// Chosen by the client, echoed in the answer; unique among the session's unanswered requests.
    public var id: UInt64
    /// The HTTP method of the lock API call (`GET`, `POST`, `DELETE`).
    public var method: String
    /// The call's path below `/_palisade/v1`, such as `/locks/acquire`.
    public var path: String
    /// The call's query string without `?`, when it has one.
    public var query: String?

    public init(id: UInt64, method: String, path: String, query: String? = nil) {
        self.id = id
        self.method = method
        self.path = path
        self.query = query
    }

    /// The header as its one-line JSON (what `JSONEncoder` would write, without its cost).
    public var line: String {
        var line =
            #"{"id":\#(id),"method":\#(LockSessionMessage.quoted(method)),"path":\#(LockSessionMessage.quoted(path))"#
        if let query { line += #","query":\#(LockSessionMessage.quoted(query))"# }
        line += "}"
        return line
    }
}

/// The header line of a lock session answer.
public struct LockSessionResponseHeader: Codable, Sendable, Equatable {
    /// The request's id; absent when the request's own header line could not be read.
    public var id: UInt64?
    /// The HTTP status the lock API answers the call with.
    public var status: Int
    /// The server's id of this request, as `x-palisade-request-id` carries it over HTTP.
    public var requestID: String

    enum CodingKeys: String, CodingKey {
        case id, status
        case requestID = "request_id"
    }

    public init(id: UInt64?, status: Int, requestID: String) {
        self.id = id
        self.status = status
        self.requestID = requestID
    }

    /// The header as its one-line JSON.
    public var line: String {
        var line = "{"
        if let id { line += #""id":\#(id),"# }
        line += #""status":\#(status),"request_id":\#(LockSessionMessage.quoted(requestID))}"#
        return line
    }
}

/// A lock session message: a one-line JSON header, a line feed, and a body (possibly empty).
public enum LockSessionMessage {
    /// The largest message either side accepts.
    public static let maximumBytes = LockAPILimits.maximumBodyBytes + 4096

    /// `text` as a JSON string: quoted, with quotes, backslashes and control characters escaped.
    public static func quoted(_ text: String) -> String {
        let isPlain = !text.utf8.contains { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }
        if isPlain { return "\"\(text)\"" }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// The header line and the body of `message`; the header is everything before the first line
    /// feed (JSON strings cannot hold a raw one), the body everything after it.
    public static func split(_ message: Substring) -> (header: Substring, body: Substring) {
        guard let newline = message.utf8.firstIndex(of: UInt8(ascii: "\n")) else { return (message, "") }
        return (message[..<newline], message[message.utf8.index(after: newline)...])
    }
}
