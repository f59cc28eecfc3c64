/// An error from ``LockClient``: either the server's lock API error, or a failure on the client's side.
public struct LockClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The server's error code (`LockHeld`, `LeaseNotFound`, …, see `Protocol/lock-api.md`), or one
    /// of the client codes below.
    public var code: String
    public var message: String
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// The server's request id, when the server answered.
    public var requestID: String?

    public init(code: String, message: String, status: Int? = nil, requestID: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.requestID = requestID
    }

    /// The server could not be reached, even after retries.
    public static let connectionFailedCode = "ConnectionFailed"
    /// The client considers its lease lost: the server said so, or no keep-alive succeeded before
    /// the lease's client-side deadline (TTL minus the safety margin).
    public static let leaseLostCode = "LeaseLost"
    /// The server's answer could not be understood.
    public static let invalidResponseCode = "InvalidResponse"
    /// The calling task was cancelled before the call was answered.
    public static let cancelledCode = "Cancelled"

    public var description: String {
        "\(code): \(message)"
            + (status.map { " (HTTP \($0)" + (requestID.map { ", request \($0)" } ?? "") + ")" } ?? "")
    }
}
