public import Hummingbird
import UUIDSupport

/// The request context of every Palisade route: Hummingbird's core context and the request id
/// that every response and error body carries.
public struct PalisadeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Random, unique per request; sent back in `x-palisade-request-id`.
    public let requestID: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = RandomUUID.hex()
    }
}
