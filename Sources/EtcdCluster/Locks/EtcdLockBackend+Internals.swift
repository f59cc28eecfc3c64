import EtcdAPI
import Foundation
import LockCore
import LockEngine
import PalisadeIDs
import PalisadeProtocol

/// One lock as read from etcd at one revision, with what a decision's transaction compares.
struct EtcdLockRead: Sendable {
    var revision: Int64
    var state: EtcdLockState
    /// The asking lease's record; nil when it is not alive (or no lease asked).
    var lease: EtcdLockValues.Lease?
    /// The token the asking lease last released of this lock, if it remembers one.
    var lastRelease: UInt64?
    /// Whether the asking lease's wait was given up (its waiter is marked cancelled).
    var cancelled: Bool
    /// Each holding's mod revision, by lease (its key is the layout's `holding(name, lease)`).
    var holdingRevisions: [LeaseID: Int64]
    /// The lock-delay key's mod revision, if it exists.
    var delayRevision: Int64?
}

extension EtcdLockBackend {
    // MARK: Reading a lock

    /// Reads lock `name` (holdings, queue, lock-delay, each holder's lease) at one revision, with
    /// what it needs of `lease`.
    func read(_ name: LockName, lease: LeaseID? = nil) async throws(LockError) -> EtcdLockRead {
        let lockPrefix = layout.lock(name)
        var reads = [EtcdRequests.prefix(lockPrefix)]
        if let lease {
            reads.append(EtcdRequests.single(layout.lease(lease)))
            reads.append(EtcdRequests.single(layout.leaseRelease(lease, name)))
        }
        let response = try await etcd { [client, reads] () async throws(EtcdError) in try await client.read(reads) }
        let revision = response.header.revision
        let lockKeys = response.responses[0].responseRange.kvs
        var holdings: [(lease: LeaseID, kv: Mvccpb_KeyValue, mode: LockMode)] = []
        var waiters: [EtcdLockState.Waiter] = []
        var cancelled = false
        var delay: (until: Int64, revision: Int64)?
        let holdingsPrefix = layout.holdings(name)
        let waitersPrefix = layout.waiters(name)
        for kv in lockKeys {
            if kv.key.starts(with: holdingsPrefix) {
                guard let holder = LeaseID(rawValue: layout.suffix(of: kv.key, after: holdingsPrefix)),
                    let value = EtcdLockValues.decode(EtcdLockValues.Holding.self, kv.value)
                else { continue }
                holdings.append((holder, kv, value.mode))
            } else if kv.key.starts(with: waitersPrefix) {
                guard let waiter = LeaseID(rawValue: layout.suffix(of: kv.key, after: waitersPrefix)),
                    let value = EtcdLockValues.decode(EtcdLockValues.Waiter.self, kv.value)
                else { continue }
                if value.cancelled == true {
                    if waiter == lease { cancelled = true }
                    continue
                }
                waiters.append(
                    EtcdLockState.Waiter(
                        lease: waiter,
                        mode: value.mode,
                        ticket: value.ticket,
                        arrival: kv.createRevision
                    )
                )
            } else if kv.key == layout.lockDelay(name),
                let value = EtcdLockValues.decode(EtcdLockValues.Delay.self, kv.value)
            {
                delay = (value.untilMs, kv.modRevision)
            }
        }
        // Whether each holder's lease is alive, at the same revision.
        var alive: Set<LeaseID> = []
        if !holdings.isEmpty {
            let leaseReads = holdings.map {
                EtcdRequests.revisioned(EtcdRequests.single(layout.lease($0.lease)), revision)
            }
            let answers = try await etcd { [client] () async throws(EtcdError) in try await client.read(leaseReads) }
            for (holding, answer) in zip(holdings, answers.responses) where !answer.responseRange.kvs.isEmpty {
                alive.insert(holding.lease)
            }
        }
        let state = EtcdLockState(
            name: name,
            holders: holdings.map {
                EtcdLockState.Holder(
                    lease: $0.lease,
                    mode: $0.mode,
                    token: FencingToken(rawValue: UInt64($0.kv.createRevision)),
                    leaseAlive: alive.contains($0.lease)
                )
            }
            .sorted { $0.token < $1.token },
            waiters: waiters.sorted { $0.arrival < $1.arrival },
            delayedUntilMs: delay?.until
        )
        let leaseRecord =
            lease == nil
            ? nil
            : response.responses[1].responseRange.kvs.first.flatMap {
                EtcdLockValues.decode(EtcdLockValues.Lease.self, $0.value)
            }
        let release =
            lease == nil
            ? nil
            : response.responses[2].responseRange.kvs.first.flatMap {
                EtcdLockValues.decode(EtcdLockValues.Release.self, $0.value)?.token
            }
        return EtcdLockRead(
            revision: revision,
            state: state,
            lease: leaseRecord,
            lastRelease: release,
            cancelled: cancelled,
            holdingRevisions: Dictionary(uniqueKeysWithValues: holdings.map { ($0.lease, $0.kv.modRevision) }),
            delayRevision: delay?.revision
        )
    }

    // MARK: Deciding

    /// Records the grant if nothing of the lock changed since `lock` was read and the lease lives.
    /// - Returns: the grant's token (its revision), or nil when the lock changed (read again).
    func grant(
        _ name: LockName,
        to lease: LeaseID,
        mode: LockMode,
        at lock: EtcdLockRead
    ) async throws(LockError) -> FencingToken? {
        let lockPrefix = layout.lock(name)
        var request = Etcdserverpb_TxnRequest()
        request.compare = [
            EtcdRequests.notChangedSince(lock.revision, prefix: lockPrefix),
            EtcdRequests.exists(layout.lease(lease)),
        ]
        request.success = [
            EtcdRequests.put(layout.holding(name, lease), EtcdValues.encode(EtcdLockValues.Holding(mode: mode))),
            EtcdRequests.put(
                layout.leaseHolding(lease, name),
                EtcdValues.encode(EtcdLockValues.Holding(mode: mode)),
                lease: Self.etcdID(of: lease)
            ),
        ]
        if lock.state.waiters.contains(where: { $0.lease == lease }) {
            request.success.append(EtcdRequests.delete(layout.waiter(name, lease)))
            if let owner = lock.lease?.owner {
                request.success.append(EtcdRequests.delete(layout.ownerWaiter(owner, lease, name)))
            }
        }
        if lock.delayRevision != nil { request.success.append(EtcdRequests.delete(layout.lockDelay(name))) }
        let response = try await etcd { [client] () async throws(EtcdError) in try await client.txn(request) }
        return response.succeeded ? FencingToken(rawValue: UInt64(response.header.revision)) : nil
    }

    /// Puts the lease in the lock's queue (or takes over its earlier wait, which then ends with
    /// `superseded`; the place in the queue is kept).
    /// - Returns: this acquire's ticket.
    func enqueue(
        _ name: LockName,
        lease: LeaseID,
        owner: String,
        mode: LockMode,
        at lock: EtcdLockRead
    ) async throws(LockError) -> String {
        if !lock.state.waiters.contains(where: { $0.lease == lease }),
            try await count(layout.ownerWaiters(owner)) >= configuration.maximumWaitersPerOwner
        {
            throw .tooManyWaiters(configuration.maximumWaitersPerOwner)
        }
        let ticket = RandomUUID.hex()
        let etcdID = Self.etcdID(of: lease)
        var request = Etcdserverpb_TxnRequest()
        request.compare = [EtcdRequests.exists(layout.lease(lease))]
        request.success = [
            EtcdRequests.put(
                layout.waiter(name, lease),
                EtcdValues.encode(EtcdLockValues.Waiter(mode: mode, ticket: ticket, cancelled: nil)),
                lease: etcdID
            ),
            EtcdRequests.put(layout.ownerWaiter(owner, lease, name), Data(), lease: etcdID),
        ]
        let response = try await etcd { [client] () async throws(EtcdError) in try await client.txn(request) }
        guard response.succeeded else { throw .leaseNotFound(lease) }
        return ticket
    }

    /// Leaves the queue, unless a later acquire of the same lease took the wait over.
    func dequeue(_ name: LockName, lease: LeaseID, ticket: String) async {
        let key = layout.waiter(name, lease)
        guard let kv = try? await client.range(key).kvs.first,
            EtcdLockValues.decode(EtcdLockValues.Waiter.self, kv.value)?.ticket == ticket
        else { return }
        var request = Etcdserverpb_TxnRequest()
        request.compare = [EtcdRequests.unchanged(key, modRevision: kv.modRevision)]
        request.success = [EtcdRequests.delete(key)]
        if let owner = try? await leaseRecord(lease)?.owner {
            request.success.append(EtcdRequests.delete(layout.ownerWaiter(owner, lease, name)))
        }
        _ = try? await client.txn(request)
    }

    /// Gives up a lease's wait for a lock: the waiter is marked, no longer counts in the queue, and
    /// the waiting acquire ends with `cancelled` and removes it.
    func cancelWait(_ name: LockName, lease: LeaseID, waiter: EtcdLockState.Waiter) async {
        let marked = EtcdLockValues.Waiter(mode: waiter.mode, ticket: waiter.ticket, cancelled: true)
        var request = Etcdserverpb_TxnRequest()
        request.compare = [EtcdRequests.exists(layout.waiter(name, lease))]
        request.success = [
            EtcdRequests.put(layout.waiter(name, lease), EtcdValues.encode(marked), lease: Self.etcdID(of: lease))
        ]
        _ = try? await client.txn(request)
    }

    /// Removes holdings in an unclean release (their leases ended, or an operator forces it) and
    /// starts the lock-delay. - Returns: whether it applied (false: the lock changed; read again).
    @discardableResult
    func clear(
        _ holders: [EtcdLockState.Holder],
        of lock: EtcdLockRead,
        reason: String
    ) async throws(LockError) -> Bool {
        let name = lock.state.name
        var request = Etcdserverpb_TxnRequest()
        for holder in holders {
            guard let revision = lock.holdingRevisions[holder.lease] else { continue }
            let key = layout.holding(name, holder.lease)
            request.compare.append(EtcdRequests.unchanged(key, modRevision: revision))
            request.success.append(EtcdRequests.delete(key))
            request.success.append(EtcdRequests.delete(layout.leaseHolding(holder.lease, name)))
        }
        if configuration.lockDelay > .zero {
            let delay = EtcdLockValues.Delay(
                untilMs: nowMs() + configuration.lockDelay.wholeMilliseconds,
                reason: reason
            )
            request.success.append(EtcdRequests.put(layout.lockDelay(name), EtcdValues.encode(delay)))
        }
        let response = try await etcd { [client] () async throws(EtcdError) in try await client.txn(request) }
        return response.succeeded
    }

    // MARK: Waiting

    /// Waits, after `lock` was read, until what `lease`'s blocked acquire in `mode` awaits changes
    /// (``EtcdLockState/awaited(by:mode:)``: the holdings, the lock-delay and the holders' lease
    /// records at the head of the queue, the predecessor's queue entry behind it), or its own queue
    /// entry changes (superseded, given up), or the deadline passes, or the lock-delay ends.
    /// Throws `cancelled` when the wait is given up.
    func waitForChange(
        of lock: EtcdLockRead,
        lease: LeaseID,
        mode: LockMode,
        until deadline: ContinuousClock.Instant,
        delayEndMs: Int64?
    ) async throws(LockError) {
        let name = lock.state.name
        var ranges = [(key: layout.waiter(name, lease), end: Data())]
        switch lock.state.awaited(by: lease, mode: mode) {
        case .holders:
            ranges.append((layout.holdings(name), EtcdKeyLayout.rangeEnd(of: layout.holdings(name))))
            ranges.append((layout.lockDelay(name), Data()))
            for holder in lock.state.holders { ranges.append((layout.lease(holder.lease), Data())) }
        case .predecessor(let ahead):
            ranges.append((layout.waiter(name, ahead), Data()))
        }
        var until = deadline
        if let delayEndMs {
            until = min(until, ContinuousClock.now + .milliseconds(max(0, delayEndMs - nowMs())))
        }
        _ = try await changes(of: ranges, from: lock.revision + 1, until: until)
        wakeUps.add(1, ordering: .relaxed)
    }

    /// The first batch of changes to `ranges` from `revision`, or none by `deadline`.
    func changes(
        of ranges: [(key: Data, end: Data)],
        from revision: Int64,
        until deadline: ContinuousClock.Instant
    ) async throws(LockError) -> [Mvccpb_Event] {
        let stream = client.changes(of: ranges, from: revision)
        do {
            return try await withThrowingTaskGroup(of: [Mvccpb_Event].self) { group in
                group.addTask {
                    for try await events in stream { return events }
                    return []
                }
                group.addTask {
                    try await Task.sleep(until: deadline)
                    return []
                }
                defer { group.cancelAll() }
                return try await group.next() ?? []
            }
        } catch is CancellationError {
            throw LockError(.cancelled, "the request was cancelled")
        } catch {
            throw Self.unavailable(error)
        }
    }

    /// The time left of a live lease (etcd counts whole seconds), at most its TTL.
    func remaining(of lease: LeaseID) async -> Duration {
        guard let seconds = try? await client.timeToLive(Self.etcdID(of: lease)) else { return .zero }
        let ttl = (try? await leaseRecord(lease)).flatMap { $0 }.map { Duration.milliseconds($0.ttlMs) }
        return min(ttl ?? .seconds(seconds), .seconds(seconds))
    }

    // MARK: Helpers

    /// How many keys start with `prefix` (the per-key limits count leases and waits so).
    func count(_ prefix: Data) async throws(LockError) -> Int64 {
        try await etcd { [client] () async throws(EtcdError) in
            try await client.read([EtcdRequests.count(prefix)]).responses[0].responseRange.count
        }
    }

    /// Runs an etcd call; a failure is `storageUnavailable` (nothing is answered as done that etcd did not confirm).
    func etcd<T>(_ call: () async throws(EtcdError) -> T) async throws(LockError) -> T {
        do {
            return try await call()
        } catch {
            throw Self.unavailable(error)
        }
    }

    static func unavailable(_ error: any Error) -> LockError {
        LockError(
            .storageUnavailable,
            "the lock store (etcd) did not answer; the change may not have been made: \(error)"
        )
    }

    /// A new lease id: the etcd lease id (16 hex digits, positive) and 16 random hex digits.
    static func newLeaseID() -> LeaseID {
        var etcdID: UInt64 = 0
        while etcdID == 0 { etcdID = UInt64.random(in: 1...UInt64(Int64.max)) }
        let hex = String(etcdID, radix: 16)
        return LeaseID(rawValue: String(repeating: "0", count: 16 - hex.count) + hex + RandomUUID.hex().prefix(16))!
    }

    /// The etcd lease behind a lease id (its first 16 hex digits).
    static func etcdID(of lease: LeaseID) -> Int64 {
        Int64(bitPattern: UInt64(lease.rawValue.prefix(16), radix: 16) ?? 0)
    }

}
