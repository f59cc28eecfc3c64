import Foundation
import GRDB
import LockCore
import LockEngine
import Logging
import PalisadeProtocol
import PalisadeTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// Runs `service` (its expiry timer) for the duration of `body`, then shuts it down gracefully.
func withRunning<C: Clock, T: Sendable>(
    _ service: LockService<C>,
    _ body: @Sendable () async throws -> T
) async throws -> T where C.Duration == Duration {
    let group = ServiceGroup(
        configuration: .init(services: [service], gracefulShutdownSignals: [], logger: Logger(label: "test"))
    )
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        defer { tasks.cancelAll() }
        let value = try await body()
        await group.triggerGracefulShutdown()
        return value
    }
}

/// Yields until `count` acquires wait for `name` (bounded: the actor answers between yields).
func waitUntilQueued<C: Clock>(_ service: LockService<C>, _ name: LockName, count: Int) async throws
where C.Duration == Duration {
    for _ in 0..<100_000 {
        if await service.status(of: name).waiters.count >= count { return }
        await Task.yield()
    }
    Issue.record("\(count) waiter(s) never queued on '\(name)'")
}

/// Grants two leases, takes lock "a" with the first, and returns the second (for the test to queue).
func holdLockWithWaitingLease<C: Clock>(_ service: LockService<C>) async throws -> LeaseSnapshot
where C.Duration == Duration {
    let holder = try await service.grantLease(ttl: .seconds(60))
    _ = try await service.acquire("a", lease: holder.id, mode: .exclusive, wait: .zero)
    return try await service.grantLease(ttl: .seconds(60))
}

func makeService(
    _ clock: ManualClock,
    directory: String? = nil,
    lockDelay: Duration = .zero,
    reservation: UInt64 = 10_000
) throws -> LockService<ManualClock> {
    try LockService(
        clock: clock,
        configuration: .init(rules: .init(lockDelay: lockDelay), tokenReservation: reservation),
        persistence: try directory.map { try LockPersistence.embedded(in: $0) }
    )
}

@Suite("LockService on a manual clock")
struct LockServiceTests {
    @Test("a waiter is woken when the holder's lease expires at exactly its TTL")
    func waiterWokenByExpiry() async throws {
        let clock = ManualClock()
        let service = try makeService(clock)
        try await withRunning(service) {
            let holder = try await service.grantLease(ttl: .seconds(10))
            let waiter = try await service.grantLease(ttl: .seconds(60))
            let first = try await service.acquire("a", lease: holder.id, mode: .exclusive, wait: .zero)
            async let second = service.acquire("a", lease: waiter.id, mode: .exclusive, wait: .seconds(30))
            try await waitUntilQueued(service, "a", count: 1)
            clock.advance(by: .seconds(10) - .nanoseconds(1))
            #expect(await service.lease(holder.id) != nil)
            clock.advance(by: .nanoseconds(1))
            let granted = try await second
            #expect(granted.grant.lease == waiter.id)
            #expect(granted.grant.token > first.grant.token)
            #expect(await service.lease(holder.id) == nil)
        }
    }

    @Test("a keep-alive renews the lease to a full TTL")
    func keepAliveRenews() async throws {
        let clock = ManualClock()
        let service = try makeService(clock)
        try await withRunning(service) {
            let lease = try await service.grantLease(ttl: .seconds(10))
            _ = try await service.acquire("a", lease: lease.id, mode: .exclusive, wait: .zero)
            clock.advance(by: .seconds(8))
            #expect(try await service.keepAlive(lease.id).remaining == .seconds(10))
            clock.advance(by: .seconds(8))
            #expect(await service.status(of: "a").holders.map(\.grant.lease) == [lease.id])
            clock.advance(by: .seconds(2))
            #expect(await service.status(of: "a").holders.isEmpty)
        }
    }

    @Test("a blocking acquire ends with waitTimeout at its deadline")
    func waitTimesOut() async throws {
        let clock = ManualClock()
        let service = try makeService(clock)
        try await withRunning(service) {
            let waiter = try await holdLockWithWaitingLease(service)
            let attempt = Task { try await service.acquire("a", lease: waiter.id, mode: .exclusive, wait: .seconds(5)) }
            try await waitUntilQueued(service, "a", count: 1)
            clock.advance(by: .seconds(5))
            let error = await #expect(throws: LockError.self) { try await attempt.value }
            #expect(error?.code == .waitTimeout)
            #expect(await service.status(of: "a").waiters.isEmpty)
        }
    }

    @Test("cancelling the waiting task removes the waiter from the queue")
    func cancellationRemovesWaiter() async throws {
        let clock = ManualClock()
        let service = try makeService(clock)
        try await withRunning(service) {
            let waiter = try await holdLockWithWaitingLease(service)
            let task = Task { try await service.acquire("a", lease: waiter.id, mode: .exclusive, wait: .seconds(30)) }
            try await waitUntilQueued(service, "a", count: 1)
            task.cancel()
            let error = await #expect(throws: LockError.self) { try await task.value }
            #expect(error?.code == .cancelled)
            #expect(await service.status(of: "a").waiters.isEmpty)
        }
    }

    @Test("a watch reports the lease's expiry, and a grant watch reports a force-release")
    func watches() async throws {
        let clock = ManualClock()
        let service = try makeService(clock)
        try await withRunning(service) {
            let lease = try await service.grantLease(ttl: .seconds(10))
            let other = try await service.grantLease(ttl: .seconds(60))
            let grant = try await service.acquire("b", lease: other.id, mode: .exclusive, wait: .zero)
            async let leaseWatch = service.watchLease(lease.id, wait: .seconds(60))
            async let grantWatch = service.watchGrant("b", token: grant.grant.token, wait: .seconds(60))
            #expect(try await service.watchLease(lease.id, wait: .zero) == .held(leaseRemaining: .seconds(10)))
            for _ in 0..<100_000 where await service.watchCount < 2 { await Task.yield() }
            #expect(await service.watchCount == 2, "both watches were registered")
            _ = try await service.forceRelease("b")
            #expect(try await grantWatch == .lost(.forceReleased))
            clock.advance(by: .seconds(10))
            #expect(try await leaseWatch == .lost(.leaseExpired))
        }
    }

    @Test("graceful shutdown ends every waiting acquire with shuttingDown")
    func shutdownEndsWaiters() async throws {
        let clock = ManualClock()
        let service = try makeService(clock)
        let group = ServiceGroup(
            configuration: .init(services: [service], gracefulShutdownSignals: [], logger: Logger(label: "test"))
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let waiter = try await holdLockWithWaitingLease(service)
            let attempt = Task {
                try await service.acquire("a", lease: waiter.id, mode: .exclusive, wait: .seconds(30))
            }
            try await waitUntilQueued(service, "a", count: 1)
            await group.triggerGracefulShutdown()
            let error = await #expect(throws: LockError.self) { try await attempt.value }
            #expect(error?.code == .shuttingDown)
            try await tasks.waitForAll()
        }
        let refused = await #expect(throws: LockError.self) { try await service.grantLease(ttl: .seconds(10)) }
        #expect(refused?.code == .shuttingDown)
    }
}

@Suite("LockService across restarts and crashes")
struct LockServiceRestartTests {
    @Test("tokens keep increasing across crashes, also past several reservations")
    func tokensMonotonicAcrossCrashes() async throws {
        let directory = try makeTemporaryDirectory()
        var issued: [FencingToken] = []
        for _ in 0..<4 {
            // A new service on the same folder, the old one abandoned without shutdown: a crash.
            let service = try makeService(ManualClock(), directory: directory, reservation: 4)
            let lease = try await service.grantLease(ttl: .seconds(60))
            for index in 0..<10 {
                let grant = try await service.acquire(
                    LockName(rawValue: "k\(index)")!,
                    lease: lease.id,
                    mode: .exclusive,
                    wait: .zero
                )
                issued.append(grant.grant.token)
                _ = try await service.release(grant.grant.name, lease: lease.id, token: grant.grant.token)
            }
        }
        #expect(issued.count == 40)
        #expect(zip(issued, issued.dropFirst()).allSatisfy { $0 < $1 }, "tokens: \(issued)")
    }

    @Test("a holder from before a crash still holds after it: nobody else is granted the lock")
    func holdingsSurviveCrash() async throws {
        let directory = try makeTemporaryDirectory()
        let before = try makeService(ManualClock(), directory: directory)
        let lease = try await before.grantLease(ttl: .seconds(30), owner: "alice")
        let grant = try await before.acquire("orders", lease: lease.id, mode: .exclusive, wait: .zero)

        let clock = ManualClock()
        let after = try makeService(clock, directory: directory)
        #expect(await after.status(of: "orders").holders.map(\.grant) == [grant.grant])
        #expect(await after.lease(lease.id)?.owner == "alice", "a lease keeps its owner")
        #expect(await after.validate("orders", token: grant.grant.token) != nil)
        let rival = try await after.grantLease(ttl: .seconds(30))
        let refused = await #expect(throws: LockError.self) {
            try await after.acquire("orders", lease: rival.id, mode: .exclusive, wait: .zero)
        }
        #expect(refused?.code == .lockHeld)
        // The restored lease keeps its holder alive with keep-alives, as before the crash.
        clock.advance(by: .seconds(20))
        _ = try await after.keepAlive(lease.id)
        clock.advance(by: .seconds(20))
        #expect(await after.status(of: "orders").holders.count == 1)
        // Without keep-alives it expires, and then the lock is free with a higher token.
        clock.advance(by: .seconds(30))
        let successor = try await after.grantLease(ttl: .seconds(30))
        let next = try await after.acquire("orders", lease: successor.id, mode: .exclusive, wait: .zero)
        #expect(next.grant.token > grant.grant.token)
    }
}

@Test("a lock state database from before lease owners opens, and its leases have no owner")
func leaseOwnerMigration() throws {
    let path = try makeTemporaryDirectory() + "/locks.sqlite"
    try DatabaseQueue(path: path).write { db in
        try db.execute(
            sql: """
                CREATE TABLE lease (id TEXT PRIMARY KEY NOT NULL, ttl_ms INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE holding (
                    name TEXT NOT NULL, lease_id TEXT NOT NULL REFERENCES lease(id) ON DELETE CASCADE,
                    token INTEGER NOT NULL, mode TEXT NOT NULL, PRIMARY KEY (name, lease_id)
                ) WITHOUT ROWID;
                INSERT INTO lease VALUES ('0123456789abcdef0123456789abcdef', 30000);
                """
        )
    }
    let store = try SQLiteLockStateStore(path: path, durable: false)
    #expect(try store.load().map(\.owner) == [""])
    let lease = LeaseID(rawValue: "fedcba9876543210fedcba9876543210")!
    try store.apply([.leaseGranted(lease, ttl: .seconds(5), owner: "bob")])
    #expect(try store.load().map(\.owner) == ["", "bob"])
}

/// The embedded lock state store, whose saving a test switches off and on, as a full disk does.
final class SwitchableStore: LockStateStore {
    let saved: SQLiteLockStateStore
    let isFailing = Mutex(false)

    init(directory: String) throws {
        saved = try SQLiteLockStateStore(path: directory + "/locks.sqlite", durable: false)
    }

    func load() throws -> [LeaseRecord] { try saved.load() }

    func apply(_ changes: [LockStateChange]) throws {
        if isFailing.withLock({ $0 }) { throw LockStorageError("cannot write locks.sqlite", errno: ENOSPC) }
        try saved.apply(changes)
    }
}

@Suite("LockService when saving fails")
struct LockServiceSaveFailureTests {
    /// A service whose state store can fail, with its token high-water mark in `tokens/`, a folder
    /// the test can remove (then the mark cannot be written) and create again.
    static func makeService(
        _ clock: ManualClock,
        store: SwitchableStore,
        directory: String,
        reservation: UInt64 = 10_000
    ) throws -> LockService<ManualClock> {
        try FileManager.default.createDirectory(atPath: directory + "/tokens", withIntermediateDirectories: true)
        return try LockService(
            clock: clock,
            configuration: .init(rules: .init(lockDelay: .zero), tokenReservation: reservation),
            persistence: LockPersistence(
                store: store,
                highWaterMark: TokenHighWaterMark(path: directory + "/tokens/fencing-tokens.hwm")
            )
        )
    }

    @Test("no change is answered unless saved; the table does not run ahead of the disk; it recovers by itself")
    func unsavedChangesAreRefusedAndUndone() async throws {
        let directory = try makeTemporaryDirectory()
        let store = try SwitchableStore(directory: directory)
        let clock = ManualClock()
        let service = try Self.makeService(clock, store: store, directory: directory)
        try await withRunning(service) {
            let holder = try await service.grantLease(ttl: .seconds(30))
            let grant = try await service.acquire("a", lease: holder.id, mode: .exclusive, wait: .zero)
            _ = try await service.acquire("b", lease: holder.id, mode: .exclusive, wait: .zero)
            let rival = try await service.grantLease(ttl: .seconds(30))
            let waiting = Task { try await service.acquire("b", lease: rival.id, mode: .exclusive, wait: .seconds(60)) }
            try await waitUntilQueued(service, "b", count: 1)

            store.isFailing.withLock { $0 = true }
            var refusals: [LockError.Code?] = []
            refusals.append(
                await #expect(throws: LockError.self) { try await service.grantLease(ttl: .seconds(30)) }?.code
            )
            refusals.append(
                await #expect(throws: LockError.self) {
                    try await service.release("a", lease: holder.id, token: grant.grant.token)
                }?.code
            )
            refusals.append(await #expect(throws: LockError.self) { try await service.revokeLease(holder.id) }?.code)
            refusals.append(await #expect(throws: LockError.self) { try await service.forceRelease("a") }?.code)
            #expect(refusals == Array(repeating: .storageUnavailable, count: 4))
            #expect(
                try await service.keepAlive(holder.id).grants.count == 2,
                "a keep-alive saves nothing (a restart gives restored leases a full TTL), so it goes on working"
            )
            let waiterEnded = await #expect(throws: LockError.self) { try await waiting.value }
            #expect(waiterEnded?.code == .storageUnavailable, "a waiting call ends rather than hangs")

            store.isFailing.withLock { $0 = false }
            // What is saved: the holder holds "a" and "b", with the token it was answered.
            #expect(await service.status(of: "a").holders.map(\.grant) == [grant.grant])
            #expect(await service.validate("a", token: grant.grant.token) != nil)
            #expect(service.liveGrants.isLiveHolder("a", token: grant.grant.token))
            let again = try await service.acquire("c", lease: rival.id, mode: .exclusive, wait: .zero)
            #expect(again.grant.token > grant.grant.token, "tokens never go back")
            #expect(
                try await service.release("a", lease: holder.id, token: grant.grant.token) == .released(grant.grant)
            )
        }
        // And after a restart on what was saved, the same.
        let restarted = try LockService(clock: ManualClock(), persistence: try .embedded(in: directory))
        #expect(await restarted.status(of: "a").holders.isEmpty)
        #expect(await restarted.status(of: "b").holders.count == 1)
        #expect(await restarted.status(of: "c").holders.count == 1)
    }

    @Test(
        "when the token high-water mark cannot be written, acquires answer tokensUnavailable, then resume by themselves"
    )
    func tokenIssuingRecovers() async throws {
        let directory = try makeTemporaryDirectory()
        let store = try SwitchableStore(directory: directory)
        let service = try Self.makeService(ManualClock(), store: store, directory: directory, reservation: 4)
        let lease = try await service.grantLease(ttl: .seconds(60))
        try FileManager.default.removeItem(atPath: directory + "/tokens")
        var issued: [FencingToken] = []
        var refused: LockError?
        for index in 0..<10 where refused == nil {
            do {
                let name = LockName(rawValue: "k\(index)")!
                issued.append(
                    try await service.acquire(name, lease: lease.id, mode: .exclusive, wait: .zero).grant.token
                )
            } catch {
                refused = error
            }
        }
        #expect(refused?.code == .tokensUnavailable, "the reserved range ran out: \(issued)")
        let again = await #expect(throws: LockError.self) {
            try await service.acquire("later", lease: lease.id, mode: .exclusive, wait: .zero)
        }
        #expect(again?.code == .tokensUnavailable)
        try FileManager.default.createDirectory(atPath: directory + "/tokens", withIntermediateDirectories: true)
        let resumed = try await service.acquire("later", lease: lease.id, mode: .exclusive, wait: .zero)
        #expect(issued.allSatisfy { $0 < resumed.grant.token })
        #expect(
            try TokenHighWaterMark(path: directory + "/tokens/fencing-tokens.hwm").read()
                >= resumed.grant.token.rawValue
        )
    }
}
