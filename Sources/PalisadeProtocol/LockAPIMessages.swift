// The JSON bodies of the lock API (`Protocol/lock-api.md`). Durations are whole milliseconds.

/// `POST /_palisade/v1/leases`: grant a lease.
public struct GrantLeaseRequest: Codable, Sendable, Equatable {
    /// The lease's time to live; between ``LockAPILimits/ttlRange``.
    public var ttlMilliseconds: Int64

    public init(ttlMilliseconds: Int64) { self.ttlMilliseconds = ttlMilliseconds }

    enum CodingKeys: String, CodingKey { case ttlMilliseconds = "ttl_ms" }
}

/// A lease as the server sees it: answer to grant, keep-alive and inspect.
public struct LeaseResponse: Codable, Sendable, Equatable {
    /// The lease's id.
    public var leaseID: LeaseID
    /// The TTL the lease was granted with; each keep-alive renews it to this.
    public var ttlMilliseconds: Int64
    /// Time left before the server expires the lease, measured when the answer was made.
    public var remainingMilliseconds: Int64
    /// The locks the lease holds.
    public var locks: [HeldLock]

    public init(leaseID: LeaseID, ttlMilliseconds: Int64, remainingMilliseconds: Int64, locks: [HeldLock]) {
        self.leaseID = leaseID
        self.ttlMilliseconds = ttlMilliseconds
        self.remainingMilliseconds = remainingMilliseconds
        self.locks = locks
    }

    enum CodingKeys: String, CodingKey {
        case leaseID = "lease_id"
        case ttlMilliseconds = "ttl_ms"
        case remainingMilliseconds = "remaining_ms"
        case locks
    }
}

/// One lock held by a lease.
public struct HeldLock: Codable, Sendable, Equatable {
    public var name: LockName
    public var token: FencingToken
    public var mode: LockMode

    public init(name: LockName, token: FencingToken, mode: LockMode) {
        self.name = name
        self.token = token
        self.mode = mode
    }
}

/// `DELETE /_palisade/v1/leases/{id}`: the locks that the revoke released.
public struct RevokeLeaseResponse: Codable, Sendable, Equatable {
    public var leaseID: LeaseID
    public var released: [HeldLock]

    public init(leaseID: LeaseID, released: [HeldLock]) {
        self.leaseID = leaseID
        self.released = released
    }

    enum CodingKeys: String, CodingKey {
        case leaseID = "lease_id"
        case released
    }
}

/// `POST /_palisade/v1/locks/acquire`.
public struct AcquireRequest: Codable, Sendable, Equatable {
    public var name: LockName
    public var leaseID: LeaseID
    /// `exclusive` when absent.
    public var mode: LockMode?
    /// How long to wait in the queue; 0 or absent is a try-acquire that never waits.
    public var waitMilliseconds: Int64?

    public init(name: LockName, leaseID: LeaseID, mode: LockMode? = nil, waitMilliseconds: Int64? = nil) {
        self.name = name
        self.leaseID = leaseID
        self.mode = mode
        self.waitMilliseconds = waitMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case name
        case leaseID = "lease_id"
        case mode
        case waitMilliseconds = "wait_ms"
    }
}

/// A grant: answer to acquire.
public struct GrantResponse: Codable, Sendable, Equatable {
    public var name: LockName
    public var leaseID: LeaseID
    public var token: FencingToken
    public var mode: LockMode
    /// The lease's remaining TTL when the grant was made.
    public var leaseRemainingMilliseconds: Int64

    public init(
        name: LockName,
        leaseID: LeaseID,
        token: FencingToken,
        mode: LockMode,
        leaseRemainingMilliseconds: Int64
    ) {
        self.name = name
        self.leaseID = leaseID
        self.token = token
        self.mode = mode
        self.leaseRemainingMilliseconds = leaseRemainingMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case name
        case leaseID = "lease_id"
        case token, mode
        case leaseRemainingMilliseconds = "lease_remaining_ms"
    }
}

/// `POST /_palisade/v1/locks/release`.
public struct ReleaseRequest: Codable, Sendable, Equatable {
    public var name: LockName
    public var leaseID: LeaseID
    /// The grant's token. When absent, the lease gives up whatever it holds or waits for on this lock.
    public var token: FencingToken?

    public init(name: LockName, leaseID: LeaseID, token: FencingToken?) {
        self.name = name
        self.leaseID = leaseID
        self.token = token
    }

    enum CodingKeys: String, CodingKey {
        case name
        case leaseID = "lease_id"
        case token
    }
}

/// Answer to release.
public struct ReleaseResponse: Codable, Sendable, Equatable {
    /// What the call did: see ``ReleaseResponse/Outcome``.
    public enum Outcome: String, Codable, Sendable {
        /// The lease held the lock and no longer does.
        case released
        /// The same grant was released before (a retried release).
        case alreadyReleased = "already_released"
        /// The lease was waiting for the lock and no longer is.
        case waitCancelled = "wait_cancelled"
    }

    public var name: LockName
    public var outcome: Outcome

    public init(name: LockName, outcome: Outcome) {
        self.name = name
        self.outcome = outcome
    }
}

/// `GET /_palisade/v1/locks?name=…`: who holds a lock and who waits.
public struct LockStatusResponse: Codable, Sendable, Equatable {
    /// A holder of the lock.
    public struct Holder: Codable, Sendable, Equatable {
        public var leaseID: LeaseID
        public var token: FencingToken
        public var mode: LockMode
        public var leaseRemainingMilliseconds: Int64

        public init(leaseID: LeaseID, token: FencingToken, mode: LockMode, leaseRemainingMilliseconds: Int64) {
            self.leaseID = leaseID
            self.token = token
            self.mode = mode
            self.leaseRemainingMilliseconds = leaseRemainingMilliseconds
        }

        enum CodingKeys: String, CodingKey {
            case leaseID = "lease_id"
            case token, mode
            case leaseRemainingMilliseconds = "lease_remaining_ms"
        }
    }

    /// A waiter, in queue order; `position` 1 is served next.
    public struct Waiter: Codable, Sendable, Equatable {
        public var leaseID: LeaseID
        public var mode: LockMode
        public var position: Int

        public init(leaseID: LeaseID, mode: LockMode, position: Int) {
            self.leaseID = leaseID
            self.mode = mode
            self.position = position
        }

        enum CodingKeys: String, CodingKey {
            case leaseID = "lease_id"
            case mode, position
        }
    }

    public var name: LockName
    public var holders: [Holder]
    public var waiters: [Waiter]
    /// Time left of the lock-delay that follows an unclean release; 0 when none.
    public var lockDelayRemainingMilliseconds: Int64

    public init(name: LockName, holders: [Holder], waiters: [Waiter], lockDelayRemainingMilliseconds: Int64) {
        self.name = name
        self.holders = holders
        self.waiters = waiters
        self.lockDelayRemainingMilliseconds = lockDelayRemainingMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case name, holders, waiters
        case lockDelayRemainingMilliseconds = "lock_delay_remaining_ms"
    }
}

/// `POST /_palisade/v1/locks/validate`: is `token` the live holder of `name` right now?
public struct ValidateRequest: Codable, Sendable, Equatable {
    public var name: LockName
    public var token: FencingToken

    public init(name: LockName, token: FencingToken) {
        self.name = name
        self.token = token
    }
}

/// Answer to validate.
public struct ValidateResponse: Codable, Sendable, Equatable {
    public var name: LockName
    public var token: FencingToken
    /// True when a live lease holds the lock with exactly this token.
    public var valid: Bool
    /// The holding lease's remaining TTL, when valid.
    public var leaseRemainingMilliseconds: Int64?

    public init(name: LockName, token: FencingToken, valid: Bool, leaseRemainingMilliseconds: Int64?) {
        self.name = name
        self.token = token
        self.valid = valid
        self.leaseRemainingMilliseconds = leaseRemainingMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case name, token, valid
        case leaseRemainingMilliseconds = "lease_remaining_ms"
    }
}

/// `POST /_palisade/v1/leases/{id}/watch` and `POST /_palisade/v1/locks/watch`: a long poll.
public struct WatchRequest: Codable, Sendable, Equatable {
    /// For a lock watch: the lock and the grant's token. Absent for a lease watch.
    public var name: LockName?
    public var token: FencingToken?
    /// How long to wait for the loss before answering "still held"; see ``LockAPILimits/waitRange``.
    public var waitMilliseconds: Int64

    public init(name: LockName? = nil, token: FencingToken? = nil, waitMilliseconds: Int64) {
        self.name = name
        self.token = token
        self.waitMilliseconds = waitMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case name, token
        case waitMilliseconds = "wait_ms"
    }
}

/// Answer to a watch: either the lease or grant was lost, and why, or it is still held.
public struct WatchResponse: Codable, Sendable, Equatable {
    /// Why a lease or a grant ended.
    public enum LossReason: String, Codable, Sendable {
        case expired, revoked, released
        case forceReleased = "force_released"
        case unknown
    }

    /// False when the watched lease or grant is gone.
    public var held: Bool
    /// Why it is gone; absent while held.
    public var reason: LossReason?
    /// The lease's remaining TTL while held.
    public var leaseRemainingMilliseconds: Int64?

    public init(held: Bool, reason: LossReason?, leaseRemainingMilliseconds: Int64?) {
        self.held = held
        self.reason = reason
        self.leaseRemainingMilliseconds = leaseRemainingMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case held, reason
        case leaseRemainingMilliseconds = "lease_remaining_ms"
    }
}

/// `POST /_palisade/v1/admin/locks/force-release`: an operator frees a lock (an unclean release).
public struct ForceReleaseRequest: Codable, Sendable, Equatable {
    public var name: LockName

    public init(name: LockName) { self.name = name }
}

/// Answer to force-release: the grants that were revoked.
public struct ForceReleaseResponse: Codable, Sendable, Equatable {
    public var name: LockName
    public var released: [LockStatusResponse.Holder]

    public init(name: LockName, released: [LockStatusResponse.Holder]) {
        self.name = name
        self.released = released
    }
}

/// The body of every lock API error.
public struct LockAPIErrorBody: Codable, Sendable, Equatable {
    /// One of ``LockAPIErrorCode``.
    public var code: String
    public var message: String
    public var requestID: String

    public init(code: String, message: String, requestID: String) {
        self.code = code
        self.message = message
        self.requestID = requestID
    }

    enum CodingKeys: String, CodingKey {
        case code, message
        case requestID = "request_id"
    }
}

/// `GET /_palisade/health`.
public struct HealthResponse: Codable, Sendable, Equatable {
    /// `ok`, or `low_space` while new object data is refused for lack of disk space (reads,
    /// deletes and lock calls go on).
    public var status: String
    public var version: String
    /// Free bytes on the data folder's disk, when known.
    public var freeBytes: UInt64?

    public init(status: String, version: String, freeBytes: UInt64? = nil) {
        self.status = status
        self.version = version
        self.freeBytes = freeBytes
    }

    enum CodingKeys: String, CodingKey {
        case status, version
        case freeBytes = "free_bytes"
    }
}

/// Bounds the server enforces on the lock API's numbers.
public enum LockAPILimits {
    /// A lease's TTL: 1 s to 1 h.
    public static let ttlRange: ClosedRange<Int64> = 1_000...3_600_000
    /// A wait (acquire queue or watch long poll): 0 to 5 minutes.
    public static let waitRange: ClosedRange<Int64> = 0...300_000
    /// The largest request body the lock API reads.
    public static let maximumBodyBytes = 64 * 1024
}

/// `GET /_palisade/v1/admin/fencing` and the answer to `PUT`: the fenced paths.
public struct FencingSettingsResponse: Codable, Sendable, Equatable {
    /// `bucket` or `bucket/prefix`; writes under them must carry a fencing token.
    public var fencedPaths: [String]

    public init(fencedPaths: [String]) { self.fencedPaths = fencedPaths }

    enum CodingKeys: String, CodingKey { case fencedPaths = "fenced_paths" }
}

/// `PUT /_palisade/v1/admin/fencing`: fence or unfence one path (persisted).
public struct SetFencingRequest: Codable, Sendable, Equatable {
    /// `bucket` or `bucket/prefix`.
    public var path: String
    public var fenced: Bool

    public init(path: String, fenced: Bool) {
        self.path = path
        self.fenced = fenced
    }
}
