public import PalisadeProtocol

/// One lease's hold on one lock, with the fencing token it was granted.
public struct Grant: Hashable, Sendable {
    public var name: LockName
    public var lease: LeaseID
    public var token: FencingToken
    public var mode: LockMode

    public init(name: LockName, lease: LeaseID, token: FencingToken, mode: LockMode) {
        self.name = name
        self.lease = lease
        self.token = token
        self.mode = mode
    }
}

/// A queued acquire: at most one per lease and lock.
public struct WaiterKey: Hashable, Sendable {
    public var name: LockName
    public var lease: LeaseID

    public init(name: LockName, lease: LeaseID) {
        self.name = name
        self.lease = lease
    }
}

/// The identity of a watch, assigned by the table.
public struct WatchID: Hashable, Sendable, Comparable {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: WatchID, rhs: WatchID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Why a lease ended.
public enum LeaseEndReason: Hashable, Sendable {
    /// Its TTL ran out without a keep-alive.
    case expired
    /// Its owner revoked it.
    case revoked
}

/// Why a holder lost a lock.
public enum ReleaseReason: Hashable, Sendable {
    /// The holder released it.
    case released
    /// The holder's lease was revoked.
    case leaseRevoked
    /// The holder's lease expired: an unclean release, followed by the lock-delay.
    case leaseExpired
    /// An operator force-released it: an unclean release, followed by the lock-delay.
    case forceReleased

    /// Whether the lock-delay follows this release.
    public var isUnclean: Bool { self == .leaseExpired || self == .forceReleased }
}

/// What ended a watch.
public enum WatchEvent: Hashable, Sendable {
    /// The watched lease or grant is gone, for this reason.
    case lost(ReleaseReason)
    /// The wait ran out while the lease or grant was still held.
    case timedOut
}

/// A lease as persisted across restarts: its TTL and holdings (no deadline: a restored lease gets a
/// full TTL from the restart).
public struct LeaseRecord: Sendable, Equatable {
    public var id: LeaseID
    public var ttl: Duration
    /// The access key that created the lease.
    public var owner: String
    public var holdings: [Grant]

    public init(id: LeaseID, ttl: Duration, owner: String = "", holdings: [Grant]) {
        self.id = id
        self.ttl = ttl
        self.owner = owner
        self.holdings = holdings
    }
}
