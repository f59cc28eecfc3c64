/// A lock API message a lock session's hot path reads without Foundation's `JSONDecoder`: from the
/// members of a flat JSON object, or nil when they are not exactly a valid message (the caller
/// then hands the text to `JSONDecoder`, whose error the client gets).
public protocol FlatJSONDecodable: Decodable {
    init?(flatJSON members: FlatJSONObject)
}

extension FlatJSONDecodable {
    /// The message `bytes` hold, when they are exactly a flat JSON object of a valid one.
    @inlinable
    public init?(json bytes: UnsafeBufferPointer<UInt8>) {
        guard let members = JSONReader.read(bytes, { $0.flatObject() }), let message = Self(flatJSON: members) else {
            return nil
        }
        self = message
    }

    /// The message `text` holds, when it is exactly a flat JSON object of a valid one.
    @inlinable
    public init?(json text: Substring) {
        guard let message = text.utf8.withContiguousStorageIfAvailable(Self.init(json:)) ?? nil else { return nil }
        self = message
    }
}

/// A lock API message a lock session's hot path writes without Foundation's `JSONEncoder`: the
/// JSON `JSONEncoder` would write (the same members, slashes unescaped).
public protocol FlatJSONEncodable: Encodable {
    var flatJSON: String { get }
}

extension FlatJSONObject {
    /// The string member `name`; `.some(nil)` when it is absent or null, nil when it is another type.
    fileprivate func optionalString(_ name: String) -> String?? {
        switch self[name] {
        case nil, .null?: .some(nil)
        case .string(let text)?: .some(text)
        default: nil
        }
    }

    fileprivate func optionalInteger(_ name: String) -> Int64?? {
        switch self[name] {
        case nil, .null?: .some(nil)
        case .integer(let value)?: .some(value)
        default: nil
        }
    }

    fileprivate func lockName() -> LockName? {
        guard case .string(let text)? = self["name"] else { return nil }
        return LockName(rawValue: text)
    }

    fileprivate func leaseID() -> LeaseID? {
        guard case .string(let text)? = self["lease_id"] else { return nil }
        return LeaseID(rawValue: text)
    }
}

extension FencingToken {
    /// A token from a JSON integer: tokens start at 1.
    fileprivate init?(json value: Int64) {
        guard value > 0 else { return nil }
        self.init(rawValue: UInt64(value))
    }
}

extension LockSessionRequestHeader: FlatJSONDecodable {
    public init?(flatJSON members: FlatJSONObject) {
        guard case .integer(let id)? = members["id"], id >= 0, case .string(let method)? = members["method"],
            case .string(let path)? = members["path"], let query = members.optionalString("query")
        else { return nil }
        self.init(id: UInt64(id), method: method, path: path, query: query)
    }
}

extension AcquireRequest: FlatJSONDecodable {
    public init?(flatJSON members: FlatJSONObject) {
        guard let name = members.lockName(), let leaseID = members.leaseID(),
            let modeText = members.optionalString("mode"), let wait = members.optionalInteger("wait_ms")
        else { return nil }
        let mode = modeText.flatMap(LockMode.init(rawValue:))
        guard mode != nil || modeText == nil else { return nil }
        self.init(name: name, leaseID: leaseID, mode: mode, waitMilliseconds: wait)
    }
}

extension ReleaseRequest: FlatJSONDecodable {
    public init?(flatJSON members: FlatJSONObject) {
        guard let name = members.lockName(), let leaseID = members.leaseID(),
            let tokenValue = members.optionalInteger("token")
        else { return nil }
        let token = tokenValue.flatMap(FencingToken.init(json:))
        guard token != nil || tokenValue == nil else { return nil }
        self.init(name: name, leaseID: leaseID, token: token)
    }
}

extension GrantResponse: FlatJSONEncodable {
    public var flatJSON: String {
        """
        {"name":\(LockSessionMessage.quoted(name.rawValue)),"lease_id":"\(leaseID.rawValue)",\
        "token":\(token.rawValue),"mode":"\(mode.rawValue)","lease_remaining_ms":\(leaseRemainingMilliseconds)}
        """
    }
}

extension ReleaseResponse: FlatJSONEncodable {
    public var flatJSON: String {
        #"{"name":\#(LockSessionMessage.quoted(name.rawValue)),"outcome":"\#(outcome.rawValue)"}"#
    }
}

// The other direction, for clients (the Swift `LockClient`): requests written, answers read.

extension AcquireRequest: FlatJSONEncodable {
    public var flatJSON: String {
        var text = #"{"name":\#(LockSessionMessage.quoted(name.rawValue)),"lease_id":"\#(leaseID.rawValue)""#
        if let mode { text += #","mode":"\#(mode.rawValue)""# }
        if let waitMilliseconds { text += #","wait_ms":\#(waitMilliseconds)"# }
        text += "}"
        return text
    }
}

extension ReleaseRequest: FlatJSONEncodable {
    public var flatJSON: String {
        var text = #"{"name":\#(LockSessionMessage.quoted(name.rawValue)),"lease_id":"\#(leaseID.rawValue)""#
        if let token { text += #","token":\#(token.rawValue)"# }
        text += "}"
        return text
    }
}

extension GrantResponse: FlatJSONDecodable {
    public init?(flatJSON members: FlatJSONObject) {
        guard let name = members.lockName(), let leaseID = members.leaseID(),
            case .integer(let tokenValue)? = members["token"], let token = FencingToken(json: tokenValue),
            case .string(let modeText)? = members["mode"], let mode = LockMode(rawValue: modeText),
            case .integer(let remaining)? = members["lease_remaining_ms"]
        else { return nil }
        self.init(name: name, leaseID: leaseID, token: token, mode: mode, leaseRemainingMilliseconds: remaining)
    }
}

extension ReleaseResponse: FlatJSONDecodable {
    public init?(flatJSON members: FlatJSONObject) {
        guard let name = members.lockName(), case .string(let outcomeText)? = members["outcome"],
            let outcome = Outcome(rawValue: outcomeText)
        else { return nil }
        self.init(name: name, outcome: outcome)
    }
}

extension LockSessionResponseHeader: FlatJSONDecodable {
    public init?(flatJSON members: FlatJSONObject) {
        guard let id = members.optionalInteger("id"), id.map({ $0 >= 0 }) ?? true,
            case .integer(let status)? = members["status"], case .string(let requestID)? = members["request_id"]
        else { return nil }
        self.init(id: id.map { UInt64($0) }, status: Int(status), requestID: requestID)
    }
}
