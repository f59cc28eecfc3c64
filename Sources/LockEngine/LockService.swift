public import LockCore
public import Logging
public import Metrics
import PalisadeIDs
public import PalisadeProtocol
public import PalisadeSupport
public import ServiceLifecycle

/// The embedded lock service: an actor around the pure ``LockTable`` that owns the clock, the
/// single expiry timer, the waiting callers and the files that make state survive restarts.
///
/// Each call reads the clock, lets the table catch up with every deadline that is due, makes one
/// table transition, and performs the effects in order: queue the state changes for the
/// ``LockStateJournal`` (group commit, off the actor), then wake callers. Every answer waits until
/// its step is saved, so an answered grant survives a crash. When a save fails, the caller gets
/// `storageUnavailable`, and the next call reloads the table from what the store holds, so the
/// table never runs ahead of what is saved; the service recovers by itself once saving works.
/// The timer loop runs as a `Service` and stops on graceful shutdown, ending every waiting call
/// and flushing the journal. Its entry points are also compiled for `ContinuousClock`, the
/// server's clock, as ``LockTable``'s are.
public actor LockService<C: Clock>: LockBackend, Service where C.Duration == Duration {
    /// The service's tunables.
    public struct Configuration: Sendable {
        /// Lease TTL bounds, wait bound and lock-delay.
        public var rules: LockTable<C.Instant>.Configuration
        /// Tokens reserved by each fsync of the high-water mark.
        public var tokenReservation: UInt64

        /// Creates a configuration; the defaults are the documented server defaults.
        public init(rules: LockTable<C.Instant>.Configuration = .init(), tokenReservation: UInt64 = 10_000) {
            self.rules = rules
            self.tokenReservation = tokenReservation
        }
    }

    struct PendingAcquire {
        let ticket: UInt64
        let continuation: CheckedContinuation<Grant, any Error>
    }

    /// The clock all deadlines are measured on.
    public nonisolated let clock: C
    /// Who holds what right now, readable without awaiting the actor (the gateway's fencing check).
    public nonisolated let liveGrants: LiveGrants<C>
    private var table: LockTable<C.Instant>
    private let persistence: LockPersistence?
    private let journal: LockStateJournal?
    private let logger: Logger
    private var metrics: LockServiceMetrics
    private var acquires: [WaiterKey: PendingAcquire] = [:]
    private var watches: [WatchID: CheckedContinuation<WatchEvent, any Error>] = [:]
    private var nextTicket: UInt64 = 0
    private var timerWakeup: AsyncStream<Void>.Continuation?
    private var isShutDown = false

    /// Creates the service, restoring leases and holdings from `persistence` when given.
    ///
    /// The next fencing token is above every token issued before, also after a crash: the
    /// high-water mark is read and a fresh range is reserved (one fsync) before any grant.
    /// - Parameters:
    ///   - persistence: where state lives; nil keeps everything in memory (tokens restart at 1).
    /// - Throws: ``LockStorageError`` or a database error when the state cannot be read or the
    ///   first token range cannot be reserved.
    public init(
        clock: C,
        configuration: Configuration = .init(),
        persistence: LockPersistence?,
        logger: Logger = Logger(label: "palisade.locks"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws {
        self.clock = clock
        self.persistence = persistence
        self.logger = logger
        let metrics = LockServiceMetrics(factory: metricsFactory)
        self.journal = persistence.map { persistence in
            LockStateJournal(store: persistence.store) { error in
                metrics.persistenceFailures.increment()
                logger.error("cannot save lock state", metadata: ["error": "\(error)"])
            }
        }
        let restored = try persistence?.store.load() ?? []
        let highestRestored = restored.flatMap(\.holdings).map(\.token.rawValue).max() ?? 0
        let issuedAtMost = max(try persistence?.highWaterMark.read() ?? 0, highestRestored)
        var reservedThrough = issuedAtMost + configuration.tokenReservation
        do {
            try persistence?.highWaterMark.write(reservedThrough)
        } catch {
            // A full disk must not keep the server from starting and serving reads: grants
            // answer 503 until a reservation can be written (each acquire asks again).
            reservedThrough = issuedAtMost
            metrics.persistenceFailures.increment()
            logger.error("cannot persist the fencing token high-water mark", metadata: ["error": "\(error)"])
        }
        let now = clock.now
        self.liveGrants = LiveGrants(clock: clock)
        liveGrants.replaceAll(with: restored) { now.advanced(by: $0.ttl) }
        self.table = LockTable(
            configuration: configuration.rules,
            tokens: TokenAllocator(
                issuedAtMost: issuedAtMost,
                reservedThrough: reservedThrough,
                reservationSize: configuration.tokenReservation
            ),
            restoring: restored,
            at: now
        )
        self.metrics = metrics
        self.metrics.restored(leases: restored.count, holdings: restored.reduce(0) { $0 + $1.holdings.count })
        if !restored.isEmpty {
            logger.info(
                "restored lock state",
                metadata: ["leases": "\(restored.count)", "first_token": "\(issuedAtMost + 1)"]
            )
        }
    }

    /// Runs the expiry timer until graceful shutdown, then ends every waiting call with `shuttingDown`.
    @_specialize(where C == ContinuousClock)
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runTimer() }
        shutDown()
        journal?.flush()
    }

    private func runTimer() async {
        while !Task.isCancelled {
            let deadline = table.nextDeadline
            let (wakeup, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            timerWakeup = continuation
            await withTaskGroup(of: Void.self) { group in
                if let deadline {
                    group.addTask { [clock] in try? await clock.sleep(until: deadline, tolerance: nil) }
                }
                group.addTask {
                    for await _ in wakeup { break }
                }
                await group.next()
                group.cancelAll()
            }
            timerWakeup = nil
            _ = advance()
        }
    }

    private func shutDown() {
        isShutDown = true
        endWaitingCalls(with: LockError(.shuttingDown, "the lock service is shutting down"))
    }

    private func endWaitingCalls(with error: LockError) {
        for pending in acquires.values { pending.continuation.resume(throwing: error) }
        for watch in watches.values { watch.resume(throwing: error) }
        acquires = [:]
        watches = [:]
    }

    // MARK: Leases

    @_specialize(where C == ContinuousClock)
    public func grantLease(ttl: Duration, owner: String = "") async throws(LockError) -> LeaseSnapshot {
        try checkRunning()
        let now = advance()
        let id = LeaseID(rawValue: RandomUUID.hex())!
        let effects = try table.grantLease(id, ttl: ttl, owner: owner, at: now)
        perform(effects)
        try await saved()
        return LeaseSnapshot(id: id, ttl: ttl, owner: owner, remaining: ttl, grants: [])
    }

    @_specialize(where C == ContinuousClock)
    public func keepAlive(_ lease: LeaseID) async throws(LockError) -> LeaseSnapshot {
        try checkRunning()
        let now = advance()
        let (_, effects) = try table.keepAlive(lease, at: now)
        perform(effects)
        let answer = snapshot(of: lease, at: now)!
        try await saved()
        return answer
    }

    @_specialize(where C == ContinuousClock)
    public func revokeLease(_ lease: LeaseID) async throws(LockError) -> [Grant] {
        try checkRunning()
        let now = advance()
        let (released, effects) = try table.revokeLease(lease, at: now)
        perform(effects)
        try await saved()
        return released
    }

    @_specialize(where C == ContinuousClock)
    public func lease(_ lease: LeaseID) -> LeaseSnapshot? {
        snapshot(of: lease, at: advance())
    }

    // MARK: Locks

    @_specialize(where C == ContinuousClock)
    public func acquire(
        _ name: LockName,
        lease: LeaseID,
        mode: LockMode,
        wait: Duration
    ) async throws(LockError) -> GrantSnapshot {
        try checkRunning()
        let now = advance()
        let (outcome, effects) = try acquireOnTable(name, lease: lease, mode: mode, wait: wait, at: now)
        perform(effects)
        switch outcome {
        case .granted(let grant):
            let answer = liveGrant(grant, at: now)!
            try await saved()
            return answer
        case .queued:
            metrics.waits.increment()
            let grant = try await awaitGrant(WaiterKey(name: name, lease: lease))
            metrics.acquireWait.recordNanoseconds(now.duration(to: clock.now).wholeNanoseconds)
            try await saved()
            guard let live = liveGrant(grant, at: advance()) else {
                throw LockError(.leaseLost, "lease \(lease) expired before its grant of '\(name)' could be answered")
            }
            return live
        }
    }

    /// The table's acquire; when the tokens ran out because their reservation could not be
    /// persisted, persists the next range now and tries once more.
    private func acquireOnTable(
        _ name: LockName,
        lease: LeaseID,
        mode: LockMode,
        wait: Duration,
        at now: C.Instant
    ) throws(LockError) -> (AcquireOutcome, [LockTable<C.Instant>.Effect]) {
        do {
            return try table.acquire(name, lease: lease, mode: mode, wait: wait, at: now)
        } catch {
            guard error.code == .tokensUnavailable else { throw error }
            perform(table.requestReservation())
            return try table.acquire(name, lease: lease, mode: mode, wait: wait, at: now)
        }
    }

    private func awaitGrant(_ key: WaiterKey) async throws(LockError) -> Grant {
        nextTicket += 1
        let ticket = nextTicket
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    acquires[key] = PendingAcquire(ticket: ticket, continuation: continuation)
                    metrics.waiters.record(acquires.count)
                }
            } onCancel: {
                // Cancellation arrives on another thread; hop onto the actor to withdraw the wait.
                Task { await self.abandonAcquire(key, ticket: ticket) }
            }
        } catch let error as LockError {
            if error.code == .waitTimeout { metrics.waitTimeouts.increment() }
            throw error
        } catch {
            throw LockError(.cancelled, "the acquire of '\(key.name)' was cancelled")
        }
    }

    private func abandonAcquire(_ key: WaiterKey, ticket: UInt64) {
        guard let pending = acquires[key], pending.ticket == ticket else { return }
        acquires[key] = nil
        metrics.waiters.record(acquires.count)
        perform(table.cancelWait(key, at: advance()))
        pending.continuation.resume(throwing: CancellationError())
    }

    @_specialize(where C == ContinuousClock)
    public func release(
        _ name: LockName,
        lease: LeaseID,
        token: FencingToken?
    ) async throws(LockError) -> ReleaseOutcome {
        try checkRunning()
        let (outcome, effects) = try table.release(name, lease: lease, token: token, at: advance())
        perform(effects)
        try await saved()
        return outcome
    }

    @_specialize(where C == ContinuousClock)
    public func status(of name: LockName) -> LockSnapshot {
        let now = advance()
        let status = table.status(of: name, at: now)
        return LockSnapshot(
            name: name,
            holders: status.holders.map {
                GrantSnapshot(grant: $0.grant, leaseRemaining: now.duration(to: $0.leaseDeadline))
            },
            waiters: status.waiters,
            lockDelayRemaining: status.delayedUntil.map { now.duration(to: $0) } ?? .zero
        )
    }

    @_specialize(where C == ContinuousClock)
    public func validate(_ name: LockName, token: FencingToken) -> GrantSnapshot? {
        let now = advance()
        return table.liveHolder(of: name, token: token, at: now).map {
            GrantSnapshot(grant: $0.grant, leaseRemaining: now.duration(to: $0.leaseDeadline))
        }
    }

    @_specialize(where C == ContinuousClock)
    public func forceRelease(_ name: LockName) async throws(LockError) -> [GrantSnapshot] {
        try checkRunning()
        let now = advance()
        let before = status(of: name).holders
        let (released, effects) = table.forceRelease(name, at: now)
        perform(effects)
        logger.notice(
            "lock force-released by an operator",
            metadata: ["lock": "\(name)", "holders": "\(released.count)"]
        )
        let answer = before.filter { snapshot in released.contains(snapshot.grant) }
        try await saved()
        return answer
    }

    // MARK: Watches

    /// The number of watch calls waiting for an answer.
    public var watchCount: Int { watches.count }

    @_specialize(where C == ContinuousClock)
    public func watchLease(_ lease: LeaseID, wait: Duration) async throws(LockError) -> WatchResult {
        try checkRunning()
        let now = advance()
        let (outcome, effects) = try table.watchLease(lease, wait: wait, at: now)
        perform(effects)
        return try await answer(outcome) { service, now in service.table.lease(lease, at: now)?.deadline }
    }

    @_specialize(where C == ContinuousClock)
    public func watchGrant(_ name: LockName, token: FencingToken, wait: Duration) async throws(LockError) -> WatchResult
    {
        try checkRunning()
        let now = advance()
        let (outcome, effects) = try table.watchGrant(name, token: token, wait: wait, at: now)
        perform(effects)
        return try await answer(outcome) { service, now in
            service.table.liveHolder(of: name, token: token, at: now)?.leaseDeadline
        }
    }

    /// Turns a watch outcome into a result, waiting for the watch to fire when it was registered.
    private func answer(
        _ outcome: WatchOutcome,
        deadline: (isolated LockService, C.Instant) -> C.Instant?
    ) async throws(LockError) -> WatchResult {
        let event: WatchEvent
        switch outcome {
        case .notHeld:
            return .lost(nil)
        case .held:
            event = .timedOut
        case .watching(let id):
            do {
                event = try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        watches[id] = continuation
                        metrics.watches.record(watches.count)
                    }
                } onCancel: {
                    Task { await self.abandonWatch(id) }
                }
            } catch let error as LockError {
                throw error
            } catch {
                throw LockError(.cancelled, "the watch was cancelled")
            }
        }
        switch event {
        case .lost(let reason):
            return .lost(reason)
        case .timedOut:
            let now = advance()
            guard let until = deadline(self, now) else { return .lost(nil) }
            return .held(leaseRemaining: now.duration(to: until))
        }
    }

    private func abandonWatch(_ id: WatchID) {
        guard let continuation = watches.removeValue(forKey: id) else { return }
        perform(table.cancelWatch(id))
        continuation.resume(throwing: CancellationError())
    }

    // MARK: Steps

    /// Throws unless a change can be made now: not while shutting down, nor while lock state
    /// cannot be reloaded after a failed save.
    private func checkRunning() throws(LockError) {
        if isShutDown { throw LockError(.shuttingDown, "the lock service is shutting down") }
        reloadIfJournalBroken(at: clock.now)
        if journal?.isBroken == true { throw Self.storageUnavailable }
    }

    /// Reads the clock and carries out every deadline that is due.
    @discardableResult
    private func advance() -> C.Instant {
        let now = clock.now
        reloadIfJournalBroken(at: now)
        perform(table.advance(to: now))
        return now
    }

    static var storageUnavailable: LockError {
        LockError(.storageUnavailable, "the lock change could not be saved (is the disk full?), so it was not made")
    }

    /// After a save failed: reloads the table from what the store holds, dropping every change
    /// since the failure; ends every waiting call with `storageUnavailable` (their waits were in
    /// the dropped table); and lets the journal write again. Restored leases get a full TTL from
    /// now, as after a restart.
    private func reloadIfJournalBroken(at now: C.Instant) {
        guard let persistence, let journal, journal.isBroken else { return }
        let restored: [LeaseRecord]
        do {
            restored = try persistence.store.load()
        } catch {
            logger.error("cannot reload lock state after a failed save", metadata: ["error": "\(error)"])
            return
        }
        table = LockTable(configuration: table.configuration, tokens: table.tokens, restoring: restored, at: now)
        liveGrants.replaceAll(with: restored) { now.advanced(by: $0.ttl) }
        endWaitingCalls(with: Self.storageUnavailable)
        journal.reset()
        timerWakeup?.yield()
        logger.notice("lock state reloaded after a failed save", metadata: ["leases": "\(restored.count)"])
    }

    private func snapshot(of lease: LeaseID, at now: C.Instant) -> LeaseSnapshot? {
        table.lease(lease, at: now).map {
            LeaseSnapshot(
                id: $0.id,
                ttl: $0.ttl,
                owner: $0.owner,
                remaining: now.duration(to: $0.deadline),
                grants: $0.grants
            )
        }
    }

    private func liveGrant(_ grant: Grant, at now: C.Instant) -> GrantSnapshot? {
        table.liveHolder(of: grant.name, token: grant.token, at: now).map {
            GrantSnapshot(grant: $0.grant, leaseRemaining: now.duration(to: $0.leaseDeadline))
        }
    }

    /// Performs a transition's effects: queue the changes to save, then wake callers, then re-arm the timer.
    private func perform(_ effects: [LockTable<C.Instant>.Effect]) {
        guard !effects.isEmpty else { return }
        var changes: [LockStateChange] = []
        for effect in effects {
            switch effect {
            case .reserveTokens(let through):
                reserveTokens(through: through)
            case .leaseGranted(let id, let ttl, let owner):
                changes.append(.leaseGranted(id, ttl: ttl, owner: owner))
            case .leaseRenewed(let id, let deadline):
                liveGrants.renewed(id, until: deadline)
            case .leaseEnded(let id, _):
                changes.append(.leaseEnded(id))
                liveGrants.ended(id)
            case .holderAdded(let grant):
                changes.append(.holderAdded(grant))
                liveGrants.added(grant)
            case .holderRemoved(let grant, _):
                changes.append(.holderRemoved(grant))
                liveGrants.removed(grant)
            case .waiterGranted, .waiterFailed, .watchFired, .armTimer:
                break
            }
            metrics.record(effect)
        }
        save(changes)
        for effect in effects {
            switch effect {
            case .waiterGranted(let key, let grant):
                acquires.removeValue(forKey: key)?.continuation.resume(returning: grant)
            case .waiterFailed(let key, let error):
                acquires.removeValue(forKey: key)?.continuation.resume(throwing: error)
            case .watchFired(let id, let event):
                watches.removeValue(forKey: id)?.resume(returning: event)
            case .armTimer:
                timerWakeup?.yield()
            default:
                break
            }
        }
        metrics.waiters.record(acquires.count)
        metrics.watches.record(watches.count)
    }

    private func reserveTokens(through: FencingToken) {
        guard let persistence else { return table.confirmReservation(through: through) }
        do {
            try persistence.highWaterMark.write(through.rawValue)
            table.confirmReservation(through: through)
        } catch {
            table.reservationFailed()
            logger.error("cannot persist the fencing token high-water mark", metadata: ["error": "\(error)"])
        }
    }

    /// Queues a step's changes for the journal; callers answer only after ``saved()``.
    private func save(_ changes: [LockStateChange]) {
        guard !changes.isEmpty else { return }
        journal?.append(changes)
    }

    /// Returns once every step the caller's answer depends on is saved.
    /// - Throws: `storageUnavailable` when one of them could not be saved.
    private func saved() async throws(LockError) {
        guard let journal else { return }
        guard await journal.saved(journal.ticket()) else { throw Self.storageUnavailable }
    }
}

/// The files that make lock state survive restarts: the state store and the token high-water mark.
public struct LockPersistence: Sendable {
    public var store: any LockStateStore
    public var highWaterMark: TokenHighWaterMark

    public init(store: any LockStateStore, highWaterMark: TokenHighWaterMark) {
        self.store = store
        self.highWaterMark = highWaterMark
    }

    /// The embedded layout inside a data folder: `locks.sqlite` and `fencing-tokens.hwm`.
    /// - Parameters:
    ///   - durable: fsync every saved lock change (the default; see ``SQLiteLockStateStore``).
    ///   - reserve: disk room that lock changes may use when the disk is full.
    public static func embedded(
        in directory: String,
        durable: Bool = true,
        reserve: SpaceReserve? = nil
    ) throws -> LockPersistence {
        let store = try SQLiteLockStateStore(path: directory + "/locks.sqlite", durable: durable, reserve: reserve)
        // The database files may have just been created: make their entries durable.
        let failure = durable ? FolderSync.sync(directory) : 0
        guard failure == 0 else { throw LockStorageError("cannot sync the data folder \(directory)", errno: failure) }
        return LockPersistence(store: store, highWaterMark: TokenHighWaterMark(path: directory + "/fencing-tokens.hwm"))
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled + attoseconds / 1_000_000_000
    }
}
