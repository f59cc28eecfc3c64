public import PalisadeProtocol

extension LockTable {
    /// Grants a lease with the given id (the shell draws it at random) to `owner`, an access key.
    /// - Throws: `invalidTTL` when `ttl` is outside the configured range; `tooManyLeases` when
    ///   the owner already has ``Configuration/maximumLeasesPerOwner`` live leases.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func grantLease(
        _ id: LeaseID,
        ttl: Duration,
        owner: String = "",
        at now: Instant
    ) throws(LockError) -> [Effect] {
        guard configuration.ttlRange.contains(ttl) else {
            throw .invalidTTL(configuration.ttlRange)
        }
        // Leases past their deadline whose timers have not run yet do not count.
        let owned = leasesByOwner[owner, default: []]
        guard
            owned.count < configuration.maximumLeasesPerOwner
                || owned.count(where: { liveLease($0, at: now) != nil }) < configuration.maximumLeasesPerOwner
        else {
            throw .tooManyLeases(configuration.maximumLeasesPerOwner)
        }
        precondition(leases[id] == nil, "lease ids are random and never reused")
        let lease = Lease(id: id, ttl: ttl, owner: owner, deadline: now.advanced(by: ttl))
        leases[id] = lease
        leasesByOwner[owner, default: []].insert(id)
        schedule(.lease(id), at: lease.deadline)
        var effects: [Effect] = [.leaseGranted(id, ttl: ttl, owner: owner), .leaseRenewed(id, until: lease.deadline)]
        rearm(&effects)
        return effects
    }

    /// Renews a lease to a full TTL from `now`; every lock it holds stays held.
    /// - Returns: the new deadline.
    /// - Throws: `leaseNotFound` when the lease has expired, was revoked or never existed.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func keepAlive(
        _ id: LeaseID,
        at now: Instant
    ) throws(LockError) -> (deadline: Instant, effects: [Effect]) {
        guard var lease = liveLease(id, at: now) else { throw .leaseNotFound(id) }
        lease.deadline = now.advanced(by: lease.ttl)
        leases[id] = lease
        schedule(.lease(id), at: lease.deadline)
        var effects: [Effect] = [.leaseRenewed(id, until: lease.deadline)]
        rearm(&effects)
        return (lease.deadline, effects)
    }

    /// Revokes a lease: its locks are released (cleanly, with no lock-delay) and its waits end.
    /// - Returns: the grants that were released.
    /// - Throws: `leaseNotFound`.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func revokeLease(
        _ id: LeaseID,
        at now: Instant
    ) throws(LockError) -> (released: [Grant], effects: [Effect]) {
        guard liveLease(id, at: now) != nil else { throw .leaseNotFound(id) }
        var effects: [Effect] = []
        let released = endLease(id, reason: .revoked, at: now, &effects)
        rearm(&effects)
        return (released, effects)
    }

    /// The acquires that `owner`'s leases have waiting.
    func waiterCount(of owner: String) -> Int {
        leasesByOwner[owner, default: []].reduce(0) { $0 + (leases[$1]?.waiting.count ?? 0) }
    }

    func liveLease(_ id: LeaseID, at now: Instant) -> Lease? {
        guard let lease = leases[id], now < lease.deadline else { return nil }
        return lease
    }

    /// Ends a lease: releases its holdings, fails its waits, answers its watches.
    @discardableResult
    mutating func endLease(_ id: LeaseID, reason: LeaseEndReason, at now: Instant, _ effects: inout [Effect]) -> [Grant]
    {
        guard let lease = leases[id] else { return [] }
        let releaseReason: ReleaseReason = reason == .expired ? .leaseExpired : .leaseRevoked
        var released: [Grant] = []
        for name in lease.held.sorted() {
            if let grant = removeHolder(of: name, lease: id, reason: releaseReason, at: now, &effects) {
                released.append(grant)
            }
        }
        let failure = LockError(
            .leaseLost,
            "lease \(id) \(reason == .expired ? "expired" : "was revoked") while waiting"
        )
        for name in lease.waiting.sorted() {
            removeWaiter(WaiterKey(name: name, lease: id), failure: failure, at: now, &effects)
        }
        for watch in (leases[id]?.watches ?? []).sorted() {
            fire(watch: watch, .lost(releaseReason), &effects)
        }
        if let owner = leases[id]?.owner {
            leasesByOwner[owner]?.remove(id)
            if leasesByOwner[owner]?.isEmpty == true { leasesByOwner[owner] = nil }
        }
        leases[id] = nil
        effects.append(.leaseEnded(id, reason))
        return released
    }
}
