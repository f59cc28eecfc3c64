public import Hummingbird
public import HummingbirdWebSocket
import Logging
import PalisadeIDs

/// The request context of every Palisade route: Hummingbird's core context and the request id
/// that every response and error body carries.
public struct PalisadeRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Unique per request (``RequestID``); sent back in `x-palisade-request-id`.
    public let requestID: String
    /// Where a lock session upgrade leaves its handler.
    public let webSocket: WebSocketHandlerReference<PalisadeRequestContext>
    /// The access key that signed the request (empty until it is authenticated).
    public var accessKeyID = ""
    /// What the handlers learn about the request, for its metrics and access log line.
    public let notes = RequestNotes()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = RequestID.next()
        webSocket = .init()
    }

    /// The context of one request made inside the lock session opened by `session`'s request,
    /// signed by `accessKeyID`: core storage of its own (its route and parameters are not shared
    /// with concurrent calls).
    init(insideSessionOf session: PalisadeRequestContext, accessKeyID: String) {
        coreContext = .init(source: SessionCallSource(logger: session.logger))
        requestID = RequestID.next()
        webSocket = session.webSocket
        self.accessKeyID = accessKeyID
    }
}

/// Where a lock session call's context comes from: the session's logger.
struct SessionCallSource: RequestContextSource {
    let logger: Logger
}
