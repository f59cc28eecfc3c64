import EtcdAPI
import Foundation
public import LockCore
public import LockEngine
public import PalisadeProtocol
import PalisadeSupport
import Synchronization

/// The lock service of cluster mode: leases, locks, queues and watches kept in etcd, so that every
/// gateway answers alike and a gateway's death loses nothing but its callers' connections.
///
/// A lease is an etcd lease; its keys go with it. A grant is recorded by one etcd transaction whose
/// revision is its fencing token (so tokens increase in grant order, over all locks, across every
/// gateway and crash). Each decision reads the lock at one revision, applies ``EtcdLockState``'s
/// rules, and commits with compares on everything it read, or reads again. A waiting acquire watches
/// the waiter just ahead of it in the queue, or, at the head, the holders, their leases and the
/// lock-delay, and decides again when they change.
public final class EtcdLockBackend: LockBackend {
    public typealias Configuration = LockTable<ContinuousClock.Instant>.Configuration

    let client: EtcdClient
    let layout: EtcdKeyLayout
    let configuration: Configuration
    /// Milliseconds since 1970 on this gateway's clock (lock-delays are wall-clock deadlines).
    let nowMs: @Sendable () -> Int64
    let wakeUps = Atomic<Int>(0)

    /// How many times a waiting acquire on this gateway has woken to decide again: what a release
    /// costs in re-reads (with waiters watching their predecessor, about two per hand-off).
    public var waitWakeUps: Int { wakeUps.load(ordering: .relaxed) }

    public init(
        client: EtcdClient,
        layout: EtcdKeyLayout = .init(),
        configuration: Configuration = .init(),
        nowMs: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.client = client
        self.layout = layout
        self.configuration = configuration
        self.nowMs = nowMs
    }

    // MARK: Leases

    public func grantLease(ttl: Duration, owner: String) async throws(LockError) -> LeaseSnapshot {
        guard configuration.ttlRange.contains(ttl) else { throw .invalidTTL(configuration.ttlRange) }
        guard try await count(layout.ownerLeases(owner)) < configuration.maximumLeasesPerOwner else {
            throw .tooManyLeases(configuration.maximumLeasesPerOwner)
        }
        let id = Self.newLeaseID()
        let etcdID = Self.etcdID(of: id)
        let seconds = Int64((ttl + .milliseconds(999)).components.seconds)
        let record = EtcdLockValues.Lease(owner: owner, ttlMs: ttl.wholeMilliseconds, revoking: nil)
        try await etcd { [client, layout] () async throws(EtcdError) in
            _ = try await client.grantLease(id: etcdID, ttl: seconds)
            var request = Etcdserverpb_TxnRequest()
            request.success = [
                EtcdRequests.put(layout.lease(id), EtcdValues.encode(record), lease: etcdID),
                EtcdRequests.put(layout.ownerLease(owner, id), Data(), lease: etcdID),
            ]
            _ = try await client.txn(request)
        }
        return LeaseSnapshot(id: id, ttl: ttl, owner: owner, remaining: ttl, grants: [])
    }

    public func keepAlive(_ lease: LeaseID) async throws(LockError) -> LeaseSnapshot {
        guard let record = try await leaseRecord(lease) else { throw .leaseNotFound(lease) }
        let renewed = try await etcd { [client] () async throws(EtcdError) in
            try await client.keepAlive(Self.etcdID(of: lease))
        }
        guard renewed != nil else { throw .leaseNotFound(lease) }
        let ttl = Duration.milliseconds(record.ttlMs)
        return LeaseSnapshot(
            id: lease,
            ttl: ttl,
            owner: record.owner,
            remaining: ttl,
            grants: try await grants(of: lease)
        )
    }

    public func revokeLease(_ lease: LeaseID) async throws(LockError) -> [Grant] {
        guard var record = try await leaseRecord(lease) else { throw .leaseNotFound(lease) }
        let held = try await grants(of: lease)
        // Clean releases first (a revoke is not an unclean release), and a mark for the lease's watchers.
        for grant in held { _ = try? await release(grant.name, lease: lease, token: grant.token) }
        record.revoking = true
        try await etcd { [client, layout] () async throws(EtcdError) in
            var request = Etcdserverpb_TxnRequest()
            request.compare = [EtcdRequests.exists(layout.lease(lease))]
            request.success = [
                EtcdRequests.put(layout.lease(lease), EtcdValues.encode(record), lease: Self.etcdID(of: lease))
            ]
            _ = try await client.txn(request)
            try await client.revokeLease(Self.etcdID(of: lease))
        }
        return held
    }

    public func lease(_ lease: LeaseID) async -> LeaseSnapshot? {
        guard let record = try? await leaseRecord(lease),
            let seconds = try? await client.timeToLive(Self.etcdID(of: lease)),
            let grants = try? await grants(of: lease)
        else { return nil }
        let ttl = Duration.milliseconds(record.ttlMs)
        return LeaseSnapshot(
            id: lease,
            ttl: ttl,
            owner: record.owner,
            remaining: min(ttl, .seconds(seconds)),
            grants: grants
        )
    }

    /// The lease's record, or nil when the lease is not alive.
    func leaseRecord(_ lease: LeaseID) async throws(LockError) -> EtcdLockValues.Lease? {
        let kvs = try await etcd { [client, layout] () async throws(EtcdError) in
            try await client.range(layout.lease(lease)).kvs
        }
        return kvs.first.flatMap { EtcdLockValues.decode(EtcdLockValues.Lease.self, $0.value) }
    }

    /// The grants a lease holds, in lock name order.
    func grants(of lease: LeaseID) async throws(LockError) -> [Grant] {
        let prefix = layout.leaseHoldings(lease)
        let names = try await etcd { [client] () async throws(EtcdError) in
            try await client.range(prefix, end: EtcdKeyLayout.rangeEnd(of: prefix)).kvs
        }
        .compactMap { LockName(rawValue: layout.suffix(of: $0.key, after: prefix)) }
        var grants: [Grant] = []
        for name in names {
            let state = try await read(name).state
            if let holder = state.holders.first(where: { $0.lease == lease }) {
                grants.append(Grant(name: name, lease: lease, token: holder.token, mode: holder.mode))
            }
        }
        return grants
    }

    // MARK: Locks

    public func acquire(
        _ name: LockName,
        lease: LeaseID,
        mode: LockMode,
        wait: Duration
    ) async throws(LockError) -> GrantSnapshot {
        try validateWait(wait)
        let deadline = ContinuousClock.now + wait
        var ticket: String?
        do throws(LockError) {
            while true {
                let lock = try await read(name, lease: lease)
                guard let record = lock.lease else {
                    throw ticket == nil ? .leaseNotFound(lease) : .leaseLostWhileWaiting(lease)
                }
                let waiter = lock.state.waiters.first { $0.lease == lease }
                if ticket != nil, lock.cancelled { throw .waitGivenUp(name) }
                if let ticket, waiter?.ticket != ticket {
                    // A later acquire by the same lease owns the wait now: leave it be.
                    throw .superseded(name)
                }
                switch lock.state.decide(lease: lease, mode: mode, nowMs: nowMs()) {
                case .alreadyHeld(let holder):
                    return GrantSnapshot(
                        grant: Grant(name: name, lease: lease, token: holder.token, mode: mode),
                        leaseRemaining: .milliseconds(record.ttlMs)
                    )
                case .modeConflict(let held):
                    throw .modeConflict(name, held: held)
                case .clearStaleHolders(let stale):
                    try await clear(stale, of: lock, reason: "leaseExpired")
                case .grant:
                    if let token = try await grant(name, to: lease, mode: mode, at: lock) {
                        ticket = nil
                        return GrantSnapshot(
                            grant: Grant(name: name, lease: lease, token: token, mode: mode),
                            leaseRemaining: .milliseconds(record.ttlMs)
                        )
                    }
                case .blocked(let reason, let until):
                    guard wait > .zero else {
                        throw waiter != nil
                            ? .alreadyQueued(name, lease: lease) : LockError(.lockHeld, "lock '\(name)' \(reason)")
                    }
                    if ticket == nil {
                        ticket = try await enqueue(name, lease: lease, owner: record.owner, mode: mode, at: lock)
                        continue
                    }
                    guard ContinuousClock.now < deadline else {
                        throw LockError(.waitTimeout, "lock '\(name)' was not granted within the wait")
                    }
                    try await waitForChange(of: lock, lease: lease, mode: mode, until: deadline, delayEndMs: until)
                }
            }
        } catch {
            if let ticket, error.code != .superseded {
                // Not under this task: it may be cancelled, and the queue must be left all the same.
                await Task { await dequeue(name, lease: lease, ticket: ticket) }.value
            }
            throw error
        }
    }

    public func release(
        _ name: LockName,
        lease: LeaseID,
        token: FencingToken?
    ) async throws(LockError) -> ReleaseOutcome {
        while true {
            let lock = try await read(name, lease: lease)
            guard lock.lease != nil else { throw .leaseNotFound(lease) }
            if let holder = lock.state.holders.first(where: { $0.lease == lease }) {
                if let token, token != holder.token {
                    throw .wrongToken(name, lease: lease, held: holder.token, given: token)
                }
                var request = Etcdserverpb_TxnRequest()
                request.compare = [
                    EtcdRequests.unchanged(layout.holding(name, lease), modRevision: lock.holdingRevisions[lease]!)
                ]
                request.success = [
                    EtcdRequests.delete(layout.holding(name, lease)),
                    EtcdRequests.delete(layout.leaseHolding(lease, name)),
                    EtcdRequests.put(
                        layout.leaseRelease(lease, name),
                        EtcdValues.encode(EtcdLockValues.Release(token: holder.token.rawValue)),
                        lease: Self.etcdID(of: lease)
                    ),
                ]
                let response = try await etcd { [client] () async throws(EtcdError) in try await client.txn(request) }
                if response.succeeded {
                    return .released(Grant(name: name, lease: lease, token: holder.token, mode: holder.mode))
                }
                continue
            }
            if token == nil, let waiter = lock.state.waiters.first(where: { $0.lease == lease }) {
                await cancelWait(name, lease: lease, waiter: waiter)
                return .waitCancelled
            }
            if let released = lock.lastRelease, token == nil || token?.rawValue == released {
                return .alreadyReleased
            }
            throw .notHolder(name, lease: lease, token: token)
        }
    }

    public func status(of name: LockName) async -> LockSnapshot {
        guard let lock = try? await read(name) else {
            return LockSnapshot(name: name, holders: [], waiters: [], lockDelayRemaining: .zero)
        }
        var holders: [GrantSnapshot] = []
        for holder in lock.state.holders where holder.leaseAlive {
            let remaining = await remaining(of: holder.lease)
            holders.append(
                GrantSnapshot(
                    grant: Grant(name: name, lease: holder.lease, token: holder.token, mode: holder.mode),
                    leaseRemaining: remaining
                )
            )
        }
        let delay = lock.state.delayedUntilMs.map { Duration.milliseconds(max(0, $0 - nowMs())) } ?? .zero
        return LockSnapshot(
            name: name,
            holders: holders,
            waiters: lock.state.waiters.enumerated().map {
                QueuedWaiter(lease: $1.lease, mode: $1.mode, position: $0 + 1)
            },
            lockDelayRemaining: delay
        )
    }

    public func validate(_ name: LockName, token: FencingToken) async -> GrantSnapshot? {
        guard let lock = try? await read(name),
            let holder = lock.state.holders.first(where: { $0.token == token && $0.leaseAlive })
        else { return nil }
        return GrantSnapshot(
            grant: Grant(name: name, lease: holder.lease, token: holder.token, mode: holder.mode),
            leaseRemaining: await remaining(of: holder.lease)
        )
    }

    public func forceRelease(_ name: LockName) async throws(LockError) -> [GrantSnapshot] {
        while true {
            let lock = try await read(name)
            let live = lock.state.holders
            if live.isEmpty { return [] }
            if try await clear(live, of: lock, reason: "forceReleased") {
                return live.map {
                    GrantSnapshot(
                        grant: Grant(name: name, lease: $0.lease, token: $0.token, mode: $0.mode),
                        leaseRemaining: .zero
                    )
                }
            }
        }
    }

    // MARK: Watches

    public func watchLease(_ lease: LeaseID, wait: Duration) async throws(LockError) -> WatchResult {
        try validateWait(wait)
        let key = layout.lease(lease)
        let deadline = ContinuousClock.now + wait
        while true {
            let response = try await etcd { [client] () async throws(EtcdError) in try await client.range(key) }
            guard response.kvs.first != nil else { return .lost(nil) }
            if ContinuousClock.now >= deadline { return .held(leaseRemaining: await remaining(of: lease)) }
            let events = try await changes(of: [(key, Data())], from: response.header.revision + 1, until: deadline)
            if let gone = events.first(where: { $0.type == .delete }) {
                return .lost(Self.revoked(gone) ? .leaseRevoked : .leaseExpired)
            }
        }
    }

    public func watchGrant(_ name: LockName, token: FencingToken, wait: Duration) async throws(LockError) -> WatchResult
    {
        try validateWait(wait)
        let deadline = ContinuousClock.now + wait
        while true {
            let lock = try await read(name)
            guard let holder = lock.state.holders.first(where: { $0.token == token && $0.leaseAlive }) else {
                return .lost(nil)
            }
            if ContinuousClock.now >= deadline { return .held(leaseRemaining: await remaining(of: holder.lease)) }
            let leaseKey = layout.lease(holder.lease)
            let holdingKey = layout.holding(name, holder.lease)
            // The lock's keys in one watch: a force-release's delete and lock-delay come in one batch.
            let events = try await changes(
                of: [(layout.lock(name), EtcdKeyLayout.rangeEnd(of: layout.lock(name))), (leaseKey, Data())],
                from: lock.revision + 1,
                until: deadline
            )
            if let gone = events.first(where: { $0.type == .delete && $0.kv.key == leaseKey }) {
                return .lost(Self.revoked(gone) ? .leaseRevoked : .leaseExpired)
            }
            if let deletion = events.first(where: { $0.type == .delete && $0.kv.key == holdingKey }) {
                let forced = events.contains {
                    $0.type == .put && $0.kv.key == layout.lockDelay(name)
                        && $0.kv.modRevision == deletion.kv.modRevision
                }
                return .lost(forced ? .forceReleased : .released)
            }
        }
    }

    /// Whether a lease record's deletion was a revoke: the record carried the mark (`prev_kv`).
    static func revoked(_ deletion: Mvccpb_Event) -> Bool {
        EtcdLockValues.decode(EtcdLockValues.Lease.self, deletion.prevKv.value)?.revoking == true
    }

    func validateWait(_ wait: Duration) throws(LockError) {
        guard wait >= .zero, wait <= configuration.maximumWait else { throw .invalidWait(configuration.maximumWait) }
    }
}
