public import LockCore
public import PalisadeProtocol

/// What the HTTP shell (and, later, the storage gateway's fencing check) needs from a lock service.
///
/// The embedded ``LockService`` implements it; a service backed by etcd would implement the same
/// calls (lease ↔ etcd lease, token ↔ etcd revision). Times are durations measured from "now",
/// so no caller depends on the service's clock.
public protocol LockBackend: Sendable {
    /// Grants a lease with `ttl` to `owner`, the access key that asks for it.
    func grantLease(ttl: Duration, owner: String) async throws(LockError) -> LeaseSnapshot
    /// Renews a lease to its full TTL.
    func keepAlive(_ lease: LeaseID) async throws(LockError) -> LeaseSnapshot
    /// Revokes a lease and releases everything it holds.
    func revokeLease(_ lease: LeaseID) async throws(LockError) -> [Grant]
    /// Inspects a lease, or nil when it is not alive.
    func lease(_ lease: LeaseID) async -> LeaseSnapshot?
    /// Acquires a lock, waiting up to `wait` in its FIFO queue (zero: try once).
    func acquire(
        _ name: LockName,
        lease: LeaseID,
        mode: LockMode,
        wait: Duration
    ) async throws(LockError) -> GrantSnapshot
    /// Releases a holding, or gives up a wait when `token` is nil.
    func release(_ name: LockName, lease: LeaseID, token: FencingToken?) async throws(LockError) -> ReleaseOutcome
    /// Who holds a lock and who waits.
    func status(of name: LockName) async -> LockSnapshot
    /// The live holder of `name` with exactly `token`, if any.
    func validate(_ name: LockName, token: FencingToken) async -> GrantSnapshot?
    /// Waits up to `wait` for a lease to end.
    func watchLease(_ lease: LeaseID, wait: Duration) async throws(LockError) -> WatchResult
    /// Waits up to `wait` for a grant to be released or lost.
    func watchGrant(_ name: LockName, token: FencingToken, wait: Duration) async throws(LockError) -> WatchResult
    /// Frees a lock from all holders (an unclean release).
    func forceRelease(_ name: LockName) async throws(LockError) -> [GrantSnapshot]
}

/// A lease at one moment.
public struct LeaseSnapshot: Sendable, Equatable {
    public var id: LeaseID
    public var ttl: Duration
    /// The access key that created the lease.
    public var owner: String
    /// Time left before the lease expires.
    public var remaining: Duration
    public var grants: [Grant]

    public init(id: LeaseID, ttl: Duration, owner: String, remaining: Duration, grants: [Grant]) {
        self.id = id
        self.ttl = ttl
        self.owner = owner
        self.remaining = remaining
        self.grants = grants
    }
}

/// A grant with its lease's remaining TTL.
public struct GrantSnapshot: Sendable, Equatable {
    public var grant: Grant
    public var leaseRemaining: Duration

    public init(grant: Grant, leaseRemaining: Duration) {
        self.grant = grant
        self.leaseRemaining = leaseRemaining
    }
}

/// A lock at one moment.
public struct LockSnapshot: Sendable, Equatable {
    public var name: LockName
    /// Holders in token order.
    public var holders: [GrantSnapshot]
    /// Waiters in queue order (position 1 first).
    public var waiters: [QueuedWaiter]
    /// Time left of the lock-delay; zero when none.
    public var lockDelayRemaining: Duration

    public init(
        name: LockName,
        holders: [GrantSnapshot],
        waiters: [QueuedWaiter],
        lockDelayRemaining: Duration
    ) {
        self.name = name
        self.holders = holders
        self.waiters = waiters
        self.lockDelayRemaining = lockDelayRemaining
    }
}

/// How a watch ended.
public enum WatchResult: Sendable, Equatable {
    /// Still held when the wait ran out (or wait was zero), with the lease's remaining TTL.
    case held(leaseRemaining: Duration)
    /// Gone, for this reason (nil when the lease or grant did not exist when the watch began).
    case lost(ReleaseReason?)
}
