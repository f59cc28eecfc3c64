public import PalisadeProtocol

extension LockTable {
    /// Acquires `name` for `lease` in `mode`, waiting up to `wait` in the lock's FIFO queue.
    ///
    /// A lease that already holds the lock in the same mode gets its grant back (a retried acquire
    /// is safe). A lease that already waits for the lock keeps its place; the earlier request ends
    /// with `superseded` and the wait is renewed to `wait`.
    /// - Parameter wait: zero for a try-acquire that never queues.
    /// - Throws: `leaseNotFound`, `invalidWait`, `modeConflict`, `lockHeld` (try-acquire only),
    ///   `tokensUnavailable`.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func acquire(
        _ name: LockName,
        lease id: LeaseID,
        mode: LockMode,
        wait: Duration,
        at now: Instant
    ) throws(LockError) -> (outcome: AcquireOutcome, effects: [Effect]) {
        guard wait >= .zero, wait <= configuration.maximumWait else {
            throw .invalidWait(configuration.maximumWait)
        }
        guard var lease = liveLease(id, at: now) else { throw .leaseNotFound(id) }
        var record = locks[name] ?? LockRecord()
        if let held = record.holders[id] {
            guard held.mode == mode else { throw .modeConflict(name, held: held.mode) }
            return (.granted(held), [])
        }
        var effects: [Effect] = []
        if let index = record.queue.firstIndex(where: { $0.lease == id }) {
            guard record.queue[index].mode == mode else {
                throw .modeConflict(name, held: record.queue[index].mode)
            }
            guard wait > .zero else { throw .alreadyQueued(name, lease: id) }
            let key = WaiterKey(name: name, lease: id)
            effects.append(
                .waiterFailed(
                    key,
                    .superseded(name)
                )
            )
            record.queue[index].deadline = now.advanced(by: wait)
            schedule(.waiter(key), at: record.queue[index].deadline)
            locks[name] = record
            rearm(&effects)
            return (.queued(position: index + 1), effects)
        }
        let delayOver = record.delayedUntil.map { now >= $0 } ?? true
        if delayOver, record.queue.isEmpty, record.admits(mode) {
            guard let token = issueToken(&effects) else {
                throw LockError(
                    .tokensUnavailable,
                    "no fencing token can be issued: the token high-water mark could not be persisted"
                )
            }
            let grant = Grant(name: name, lease: id, token: token, mode: mode)
            record.delayedUntil = nil
            record.holders[id] = grant
            lease.held.insert(name)
            leases[id] = lease
            locks[name] = record
            effects.append(.holderAdded(grant))
            return (.granted(grant), effects)
        }
        guard wait > .zero else {
            let why =
                !delayOver
                ? "is in its lock-delay after an unclean release" : record.holders.isEmpty ? "has waiters" : "is held"
            throw LockError(.lockHeld, "lock '\(name)' \(why)")
        }
        guard waiterCount(of: lease.owner) < configuration.maximumWaitersPerOwner else {
            throw .tooManyWaiters(configuration.maximumWaitersPerOwner)
        }
        let waiter = Waiter(lease: id, mode: mode, deadline: now.advanced(by: wait))
        record.queue.append(waiter)
        lease.waiting.insert(name)
        leases[id] = lease
        locks[name] = record
        schedule(.waiter(WaiterKey(name: name, lease: id)), at: waiter.deadline)
        rearm(&effects)
        return (.queued(position: record.queue.count), effects)
    }

    /// Releases the lock held by `lease`, or gives up the lease's wait for it.
    ///
    /// With a token, only that grant is released; releasing it again answers `alreadyReleased`.
    /// Without a token, the lease gives up whatever it holds or waits for on this lock.
    /// - Throws: `leaseNotFound`; `notHolder` when the lease neither holds nor waits with that token.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func release(
        _ name: LockName,
        lease id: LeaseID,
        token: FencingToken?,
        at now: Instant
    ) throws(LockError) -> (outcome: ReleaseOutcome, effects: [Effect]) {
        // No copy of the lease lives across the release, or remembering it would copy the history.
        guard liveLease(id, at: now) != nil else { throw .leaseNotFound(id) }
        var effects: [Effect] = []
        if let held = locks[name]?.holders[id] {
            guard token == nil || token == held.token else {
                throw .wrongToken(name, lease: id, held: held.token, given: token!)
            }
            removeHolder(of: name, lease: id, reason: .released, at: now, &effects)
            rearm(&effects)
            return (.released(held), effects)
        }
        if token == nil, locks[name]?.queue.contains(where: { $0.lease == id }) == true {
            let failure = LockError.waitGivenUp(name)
            removeWaiter(WaiterKey(name: name, lease: id), failure: failure, at: now, &effects)
            rearm(&effects)
            return (.waitCancelled, effects)
        }
        if leases[id]?.recentReleases.contains(where: { $0.name == name && (token == nil || $0.token == token) })
            == true
        {
            return (.alreadyReleased, [])
        }
        throw .notHolder(name, lease: id, token: token)
    }

    /// Frees a lock from all its holders: an operator's action, counted as an unclean release
    /// (the lock-delay follows).
    /// - Returns: the grants that were revoked.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func forceRelease(_ name: LockName, at now: Instant) -> (released: [Grant], effects: [Effect]) {
        var effects: [Effect] = []
        var released: [Grant] = []
        for lease in (locks[name]?.holders.keys.sorted() ?? []) {
            if let grant = removeHolder(of: name, lease: lease, reason: .forceReleased, at: now, &effects) {
                released.append(grant)
            }
        }
        rearm(&effects)
        return (released, effects)
    }

    /// Forgets a waiter whose caller went away (task cancellation); no effect answers it.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func cancelWait(_ key: WaiterKey, at now: Instant) -> [Effect] {
        var effects: [Effect] = []
        removeWaiter(key, failure: nil, at: now, &effects)
        rearm(&effects)
        return effects
    }

    /// Records that the token high-water mark is persisted through `through`.
    public mutating func confirmReservation(through: FencingToken) {
        tokens.confirmReservation(through: through)
    }

    /// Forgets a reservation that could not be persisted; it is asked for again on a later grant.
    public mutating func reservationFailed() {
        tokens.reservationFailed()
    }

    /// Asks for the next token range now, unless one is pending: after an acquire found the tokens
    /// used up (their reservation could not be persisted), so that issuing recovers by itself.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func requestReservation() -> [Effect] {
        tokens.requestReservation().map { [.reserveTokens(through: $0)] } ?? []
    }

    mutating func issueToken(_ effects: inout [Effect]) -> FencingToken? {
        guard let (token, reserve) = tokens.allocate() else { return nil }
        if let reserve { effects.append(.reserveTokens(through: reserve)) }
        return token
    }

    /// Removes one holding, answers its watches, starts the lock-delay after an unclean release,
    /// and wakes the next waiters.
    @discardableResult
    mutating func removeHolder(
        of name: LockName,
        lease id: LeaseID,
        reason: ReleaseReason,
        at now: Instant,
        _ effects: inout [Effect]
    ) -> Grant? {
        guard var record = locks[name], let grant = record.holders.removeValue(forKey: id) else { return nil }
        leases[id]?.held.remove(name)
        if reason == .released { leases[id]?.rememberRelease(grant) }
        effects.append(.holderRemoved(grant, reason))
        if reason.isUnclean, configuration.lockDelay > .zero {
            let until = now.advanced(by: configuration.lockDelay)
            if record.delayedUntil.map({ $0 < until }) ?? true {
                record.delayedUntil = until
                schedule(.lockDelay(name), at: until)
            }
        }
        locks[name] = record
        for watch in record.watches.sorted() where watches[watch]?.target == .grant(grant) {
            fire(watch: watch, .lost(reason), &effects)
        }
        promoteWaiters(of: name, at: now, &effects)
        return grant
    }

    /// Removes one waiter (ending it with `failure` when given) and wakes those it was blocking.
    mutating func removeWaiter(_ key: WaiterKey, failure: LockError?, at now: Instant, _ effects: inout [Effect]) {
        guard var record = locks[key.name], let index = record.queue.firstIndex(where: { $0.lease == key.lease })
        else { return }
        record.queue.remove(at: index)
        locks[key.name] = record
        leases[key.lease]?.waiting.remove(key.name)
        if let failure { effects.append(.waiterFailed(key, failure)) }
        promoteWaiters(of: key.name, at: now, &effects)
    }

    /// Grants the lock to the head of its queue while the head is compatible with the holders:
    /// one exclusive waiter, or a run of shared waiters. Later waiters are never served first.
    mutating func promoteWaiters(of name: LockName, at now: Instant, _ effects: inout [Effect]) {
        guard var record = locks[name] else { return }
        defer { locks[name] = record.isIdle ? nil : record }
        if let until = record.delayedUntil {
            guard now >= until else { return }
            record.delayedUntil = nil
        }
        while let head = record.queue.first, record.admits(head.mode) {
            let key = WaiterKey(name: name, lease: head.lease)
            guard liveLease(head.lease, at: now) != nil else {
                // Its lease passed its TTL before the expiry was processed: never grant to it.
                record.queue.removeFirst()
                leases[head.lease]?.waiting.remove(name)
                effects.append(.waiterFailed(key, .leaseLostWhileWaiting(head.lease)))
                continue
            }
            guard let token = issueToken(&effects) else { return }
            record.queue.removeFirst()
            let grant = Grant(name: name, lease: head.lease, token: token, mode: head.mode)
            record.holders[head.lease] = grant
            leases[head.lease]?.waiting.remove(name)
            leases[head.lease]?.held.insert(name)
            effects.append(.holderAdded(grant))
            effects.append(.waiterGranted(key, grant))
        }
    }
}
