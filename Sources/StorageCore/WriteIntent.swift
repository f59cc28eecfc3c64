/// A write as the commit rules see it: what it wants to do, and the conditions it was sent with.
public struct WriteIntent: Sendable, Equatable {
    /// What the write does to the key.
    public enum Kind: String, Sendable, Equatable {
        /// Makes a new version current (PutObject, CopyObject, CompleteMultipartUpload).
        case put
        /// Removes the current version (DeleteObject, a key of DeleteObjects).
        case delete
    }

    public var kind: Kind
    /// `If-Match` / `If-None-Match` of the request.
    public var preconditions: WritePreconditions
    /// The commit sequence of the current version when the request began (nil: the key was absent),
    /// so a precondition broken by a racing commit is told apart from one that never held.
    public var observedSequence: UInt64?
    /// The lock and token the write claims to hold, if it carries them.
    public var fence: FenceClaim?
    /// The names the write is recorded under when it commits (``WriteRecord``); a name already
    /// recorded refuses the write.
    public var names: [String]
    /// The time its records carry, ms since 1970.
    public var recordedAt: Int64

    public init(
        kind: Kind,
        preconditions: WritePreconditions = .init(),
        observedSequence: UInt64? = nil,
        fence: FenceClaim? = nil,
        names: [String] = [],
        recordedAt: Int64 = 0
    ) {
        self.kind = kind
        self.preconditions = preconditions
        self.observedSequence = observedSequence
        self.fence = fence
        self.names = names
        self.recordedAt = recordedAt
    }
}

/// The conditional-write headers: `If-Match` (an ETag or `*`) and `If-None-Match` (an ETag or `*`).
public struct WritePreconditions: Sendable, Equatable {
    /// The ETag the current version must have (unquoted; `*` means "any version exists").
    public var ifMatch: String?
    /// The ETag the current version must not have (unquoted; `*` means "the key must not exist").
    public var ifNoneMatch: String?

    public init(ifMatch: String? = nil, ifNoneMatch: String? = nil) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
    }

    public var isEmpty: Bool { ifMatch == nil && ifNoneMatch == nil }

    /// How the conditions fare against a key's current version.
    public enum Outcome: Sendable, Equatable {
        case hold
        /// A condition does not hold (412).
        case fail
        /// `If-Match` names a version of a key that does not exist (404, as S3 answers).
        case keyAbsent
    }

    /// How these conditions fare for `current` (nil: the key is absent).
    public func evaluate(_ current: ObjectHead?) -> Outcome {
        if let ifNoneMatch, let current, ifNoneMatch == "*" || ifNoneMatch == current.etag { return .fail }
        if let ifMatch {
            guard let current else { return .keyAbsent }
            if ifMatch != "*" && ifMatch != current.etag { return .fail }
        }
        return .hold
    }

    /// Whether these conditions hold for `current` (nil: the key is absent).
    public func hold(for current: ObjectHead?) -> Bool { evaluate(current) == .hold }
}
