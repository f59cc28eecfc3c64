public import Hummingbird
public import HummingbirdWebSocket
import UUIDSupport

/// The request context of every Palisade route: Hummingbird's core context and the request id
/// that every response and error body carries.
public struct PalisadeRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Random, unique per request; sent back in `x-palisade-request-id`.
    public let requestID: String
    /// Where a lock session upgrade leaves its handler.
    public let webSocket: WebSocketHandlerReference<PalisadeRequestContext>

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = RandomUUID.hex()
        webSocket = .init()
    }

    /// The context of one request made inside the lock session opened by `session`'s request.
    init(insideSessionOf session: PalisadeRequestContext) {
        coreContext = session.coreContext
        requestID = RandomUUID.hex()
        webSocket = session.webSocket
    }
}
