public import PalisadeProtocol

extension LockTable {
    /// A lease as seen by inspect.
    public struct LeaseInfo: Sendable, Equatable {
        public var id: LeaseID
        public var ttl: Duration
        /// The access key that created the lease.
        public var owner: String
        public var deadline: Instant
        /// The lease's holdings, by lock name.
        public var grants: [Grant]
    }

    /// A lock as seen by status.
    public struct LockStatus: Sendable, Equatable {
        /// A holder and the deadline of its lease.
        public struct Holder: Sendable, Equatable {
            public var grant: Grant
            public var leaseDeadline: Instant
        }

        public var name: LockName
        /// Holders, in token order.
        public var holders: [Holder]
        public var waiters: [QueuedWaiter]
        /// When the lock-delay after an unclean release ends; nil when there is none.
        public var delayedUntil: Instant?
    }

    /// Inspects a live lease, or returns nil.
    @_specialize(where Instant == ContinuousClock.Instant)
    public func lease(_ id: LeaseID, at now: Instant) -> LeaseInfo? {
        guard let lease = liveLease(id, at: now) else { return nil }
        let grants = lease.held.sorted().compactMap { locks[$0]?.holders[id] }
        return LeaseInfo(id: id, ttl: lease.ttl, owner: lease.owner, deadline: lease.deadline, grants: grants)
    }

    /// Who holds `name` and who waits for it; an unknown lock has no holders and no waiters.
    @_specialize(where Instant == ContinuousClock.Instant)
    public func status(of name: LockName, at now: Instant) -> LockStatus {
        let record = locks[name] ?? LockRecord()
        let holders = record.holders.values.sorted { $0.token < $1.token }.compactMap { grant in
            liveLease(grant.lease, at: now).map { LockStatus.Holder(grant: grant, leaseDeadline: $0.deadline) }
        }
        let waiters = record.queue.enumerated().map { QueuedWaiter(lease: $1.lease, mode: $1.mode, position: $0 + 1) }
        let delay = record.delayedUntil.flatMap { now < $0 ? $0 : nil }
        return LockStatus(name: name, holders: holders, waiters: waiters, delayedUntil: delay)
    }

    /// The live holder of `name` with exactly `token`, if any (Chubby's CheckSequencer).
    @_specialize(where Instant == ContinuousClock.Instant)
    public func liveHolder(of name: LockName, token: FencingToken, at now: Instant) -> LockStatus.Holder? {
        guard let grant = locks[name]?.holders.values.first(where: { $0.token == token }),
            let lease = liveLease(grant.lease, at: now)
        else { return nil }
        return LockStatus.Holder(grant: grant, leaseDeadline: lease.deadline)
    }
}

/// A queued acquire; `position` 1 is served next.
public struct QueuedWaiter: Sendable, Equatable {
    public var lease: LeaseID
    public var mode: LockMode
    public var position: Int

    public init(lease: LeaseID, mode: LockMode, position: Int) {
        self.lease = lease
        self.mode = mode
        self.position = position
    }
}
