import Synchronization

/// What the handlers of a request learn about it (its S3 operation, bucket and key, the key that
/// signed it), for the middleware that records the request once it is answered: metrics and the
/// access log. Shared by reference, since each middleware gets its own copy of the context.
public final class RequestNotes: Sendable {
    public struct Notes: Sendable, Equatable {
        /// The S3 operation (`PutObject`, `ListObjectsV2`, …); nil outside the S3 gateway.
        public var operation: String?
        public var bucket: String?
        public var key: String?
        /// The access key whose signature was verified; nil until then.
        public var accessKeyID: String?
    }

    private let state = Mutex(Notes())

    public init() {}

    public var current: Notes { state.withLock { $0 } }

    func update(_ change: (inout Notes) -> Void) { state.withLock { change(&$0) } }
}
