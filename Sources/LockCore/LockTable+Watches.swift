public import PalisadeProtocol

extension LockTable {
    /// Watches a lease until it ends or `wait` runs out.
    /// - Throws: `invalidWait`.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func watchLease(
        _ id: LeaseID,
        wait: Duration,
        at now: Instant
    ) throws(LockError) -> (outcome: WatchOutcome, effects: [Effect]) {
        try validateWait(wait)
        guard liveLease(id, at: now) != nil else { return (.notHeld, []) }
        guard wait > .zero else { return (.held, []) }
        let watch = addWatch(.lease(id), deadline: now.advanced(by: wait))
        leases[id]?.watches.insert(watch)
        var effects: [Effect] = []
        rearm(&effects)
        return (.watching(watch), effects)
    }

    /// Watches one grant (lock and token) until it is released or lost, or `wait` runs out.
    /// - Throws: `invalidWait`.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func watchGrant(
        _ name: LockName,
        token: FencingToken,
        wait: Duration,
        at now: Instant
    ) throws(LockError) -> (outcome: WatchOutcome, effects: [Effect]) {
        try validateWait(wait)
        guard let grant = liveHolder(of: name, token: token, at: now)?.grant else { return (.notHeld, []) }
        guard wait > .zero else { return (.held, []) }
        let watch = addWatch(.grant(grant), deadline: now.advanced(by: wait))
        locks[name]?.watches.insert(watch)
        var effects: [Effect] = []
        rearm(&effects)
        return (.watching(watch), effects)
    }

    /// Forgets a watch whose caller went away; no effect answers it.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func cancelWatch(_ id: WatchID) -> [Effect] {
        guard let watch = watches.removeValue(forKey: id) else { return [] }
        detach(watch: id, target: watch.target)
        var effects: [Effect] = []
        rearm(&effects)
        return effects
    }

    func validateWait(_ wait: Duration) throws(LockError) {
        guard wait >= .zero, wait <= configuration.maximumWait else {
            throw .invalidWait(configuration.maximumWait)
        }
    }

    mutating func addWatch(_ target: Watch.Target, deadline: Instant) -> WatchID {
        let id = WatchID(rawValue: nextWatchID)
        nextWatchID += 1
        watches[id] = Watch(target: target, deadline: deadline)
        schedule(.watch(id), at: deadline)
        return id
    }

    mutating func fire(watch id: WatchID, _ event: WatchEvent, _ effects: inout [Effect]) {
        guard let watch = watches.removeValue(forKey: id) else { return }
        detach(watch: id, target: watch.target)
        effects.append(.watchFired(id, event))
    }

    mutating func detach(watch id: WatchID, target: Watch.Target) {
        switch target {
        case .lease(let lease):
            leases[lease]?.watches.remove(id)
        case .grant(let grant):
            guard var record = locks[grant.name] else { return }
            record.watches.remove(id)
            locks[grant.name] = record.isIdle ? nil : record
        }
    }
}
