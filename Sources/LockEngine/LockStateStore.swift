public import LockCore
public import PalisadeProtocol

/// Where the lock service keeps leases and holdings so that a restart never lets a new holder
/// overlap one from before it. The embedded store is SQLite; a distributed one (etcd) fits the same seam.
public protocol LockStateStore: Sendable {
    /// Every lease with its holdings, as last saved.
    func load() throws -> [LeaseRecord]
    /// Applies the changes of one lock-service step, atomically.
    func apply(_ changes: [LockStateChange]) throws
}

/// One change to the saved lock state.
public enum LockStateChange: Sendable, Equatable {
    case leaseGranted(LeaseID, ttl: Duration, owner: String)
    case leaseEnded(LeaseID)
    case holderAdded(Grant)
    case holderRemoved(Grant)
}
