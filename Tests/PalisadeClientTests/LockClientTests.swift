import Foundation
import PalisadeAuth
import PalisadeProtocol
import PalisadeTestSupport
import Synchronization
import Testing

@testable import PalisadeClient

@Suite("LockClient against a live server")
struct LockClientTests {
    @Test(
        "16 clients × 50 acquisitions of one lock: no two critical sections overlap, tokens increase in grant order",
        arguments: LockClient.Transport.allCases
    )
    func contention(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let log = CriticalSectionLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        // Long leases: on a loaded machine a keep-alive may take seconds to be answered.
                        try await server.client(transport: transport).withLease(ttl: .seconds(30)) { session in
                            for _ in 0..<50 {
                                let grant = try await session.acquire("hot", wait: .seconds(60))
                                log.enter(grant.token)
                                try await Task.sleep(for: .milliseconds(1))  // long beside a grant's hop
                                log.leave()
                                try await session.release(grant)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let tokens = log.tokens
            #expect(tokens.count == 800)
            #expect(log.overlaps == 0)
            #expect(zip(tokens, tokens.dropFirst()).allSatisfy { $0 < $1 })
        }
    }

    @Test("withLock from several clients at once serializes their bodies", arguments: LockClient.Transport.allCases)
    func withLockSerializes(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let log = CriticalSectionLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        for _ in 0..<5 {
                            try await server.client(transport: transport).withLock(
                                "shared-resource",
                                ttl: .seconds(30),
                                wait: .seconds(60)
                            ) {
                                lock in
                                log.enter(lock.token)
                                try await Task.sleep(for: .milliseconds(5))
                                log.leave()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(log.tokens.count == 40)
            #expect(log.overlaps == 0)
        }
    }

    @Test(
        "shared withLock: readers hold the lock together, and the overlap counter sees it",
        arguments: LockClient.Transport.allCases
    )
    func sharedReadersOverlap(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let log = CriticalSectionLog()
            let (inside, allInside) = AsyncStream.makeStream(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await server.client(transport: transport).withLock(
                            "read-mostly",
                            ttl: .seconds(30),
                            wait: .seconds(30),
                            mode: .shared
                        ) { lock in
                            #expect(lock.mode == .shared)
                            log.enter(lock.token)
                            allInside.yield()
                            // Stay inside until every reader is (bounded: a reader that cannot enter fails the test).
                            for _ in 0..<500 where log.tokens.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
                            log.leave()
                        }
                    }
                }
                try await group.waitForAll()
            }
            allInside.finish()
            var entered = 0
            for await _ in inside { entered += 1 }
            #expect(entered == 3)
            #expect(log.overlaps == 2, "the second and third reader entered while others were inside")
        }
    }

    @Test(
        "withLock keeps the lease alive for longer than its TTL, and exposes the fencing headers",
        arguments: LockClient.Transport.allCases
    )
    func keepAlive(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let client = server.client(transport: transport)
            let (token, headers, validAfterwards) = try await client.withLock("long-job", ttl: .seconds(8)) { lock in
                // Real time on purpose: the keep-alive loop runs on the real clock of the client.
                // An 8 s TTL leaves each keep-alive more than 4 s to be answered on a machine loaded
                // by the whole suite (the cluster tests' etcd and gateways among it).
                try await Task.sleep(for: .seconds(9))
                let check = try await client.validate(lock.name, token: lock.token)
                return (lock.token, lock.fencingHeaders.map { "\($0.name): \($0.value)" }, check.valid && lock.isAlive)
            }
            #expect(validAfterwards)
            #expect(headers == ["x-palisade-lock: long-job", "x-palisade-fencing-token: \(token)"])
            let remaining = try await client.status("long-job")
            #expect(remaining.holders.isEmpty)
        }
    }

    @Test("a lease whose grant took long to answer is renewed at once, not given up at its client-side deadline")
    func renewsBeforeAnEarlyDeadline() async throws {
        try await withTestServer { server in
            let lease = try await server.client.grantLease(ttl: .seconds(30))
            // As if the grant had taken 21 s to answer: 9 s are left before the client-side deadline,
            // less than the third of the TTL after which a renewal would be due.
            let early = ContinuousClock.now + .seconds(9)
            let session = LockSession(
                leaseID: lease.leaseID,
                ttl: .seconds(30),
                client: server.client,
                state: .init(deadline: early)
            )
            let keepAlive = Task { await session.keepAlive() }
            for _ in 0..<400 where session.expiresAt == early { try await Task.sleep(for: .milliseconds(20)) }
            #expect(session.expiresAt != early, "no keep-alive moved the client-side deadline in 8 s")
            #expect(session.expiresAt > early)
            keepAlive.cancel()
            #expect(await keepAlive.value == nil)
        }
    }

    @Test("withLock releases the lock when its body throws", arguments: LockClient.Transport.allCases)
    func releasesOnThrow(transport: LockClient.Transport) async throws {
        struct Boom: Error {}
        try await withTestServer { server in
            await #expect(throws: Boom.self) {
                try await server.client(transport: transport).withLock("fragile") { _ in throw Boom() }
            }
            let remaining = try await server.client(transport: transport).status("fragile")
            #expect(remaining.holders.isEmpty)
        }
    }

    @Test("withLock releases the lock when its task is cancelled", arguments: LockClient.Transport.allCases)
    func releasesOnCancellation(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let (entered, signal) = AsyncStream.makeStream(of: Void.self)
            let task = Task {
                try await server.client(transport: transport).withLock("cancellable") { _ in
                    signal.yield()
                    try await Task.sleep(for: .seconds(60))
                }
            }
            for await _ in entered { break }
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            let remaining = try await server.client(transport: transport).status("cancellable")
            #expect(remaining.holders.isEmpty)
        }
    }

    /// How a lease is lost under a running `withLock`.
    enum LeaseEnding: CaseIterable, Sendable {
        /// The server's clock passes the lease's TTL: the next keep-alive hears LeaseNotFound.
        case expired
        /// Someone revokes it.
        case revoked
    }

    @Test(
        "when the lease is lost, the body's task is cancelled within one TTL and withLock throws LeaseLost",
        arguments: LockClient.Transport.allCases,
        LeaseEnding.allCases
    )
    func leaseLossCancelsBody(transport: LockClient.Transport, ending: LeaseEnding) async throws {
        let serverClock = ManualClock()
        try await withTestServer(clock: serverClock) { server in
            let client = server.client(transport: transport)
            // The connection (for a session, its upgrade) is opened before the TTL's clock starts:
            // under the whole suite's load, opening it can take a good part of 3 s.
            _ = try await client.status("doomed")
            let (leases, signal) = AsyncStream.makeStream(of: LeaseID.self)
            let task = Task {
                // Finished however withLock ends, so the wait below cannot outlive a failed acquire.
                defer { signal.finish() }
                try await client.withLock("doomed", ttl: .seconds(3)) { lock in
                    signal.yield(lock.leaseID)
                    try await Task.sleep(for: .seconds(60))
                }
            }
            var iterator = leases.makeAsyncIterator()
            guard let lease = await iterator.next() else {
                Issue.record("withLock ended before its body ran: \(await task.result)")
                return
            }
            let lostAt = ContinuousClock.now
            switch ending {
            case .expired: serverClock.advance(by: .seconds(3))
            case .revoked: _ = try await client.revokeLease(lease)
            }
            let error = await #expect(throws: LockClientError.self) { try await task.value }
            #expect(error?.code == LockClientError.leaseLostCode)
            #expect(lostAt.duration(to: .now) < .seconds(3), "the body ran on past one TTL after the loss")
        }
    }

    @Test("closing a lock session releases nothing: locks live as long as their lease")
    func sessionCloseKeepsLocks() async throws {
        try await withTestServer { server in
            let client = server.client(transport: .session)
            let lease = try await client.grantLease(ttl: .seconds(30))
            let grant = try await client.acquire("kept", lease: lease.leaseID, wait: .zero)
            await client.close()
            let status = try await server.client.status("kept")
            #expect(status.holders.map(\.token) == [grant.token])
            #expect(try await server.client.validate("kept", token: grant.token).valid)
            #expect(
                try await server.client.tryAcquire(
                    "kept",
                    lease: try await server.client.grantLease(ttl: .seconds(5)).leaseID
                ) == nil
            )
        }
    }

    @Test(
        "tryAcquire answers nil when the lock is held; server errors carry code, status and request id",
        arguments: LockClient.Transport.allCases
    )
    func tryAcquireAndErrors(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let client = server.client(transport: transport)
            let first = try await client.grantLease(ttl: .seconds(10))
            let second = try await client.grantLease(ttl: .seconds(10))
            let taken = try await client.tryAcquire("t", lease: first.leaseID)
            let refused = try await client.tryAcquire("t", lease: second.leaseID)
            #expect(taken != nil)
            #expect(refused == nil)
            let error = await #expect(throws: LockClientError.self) {
                try await client.keepAlive(LeaseID(rawValue: String(repeating: "a", count: 32))!)
            }
            #expect(error?.code == LockAPIErrorCode.leaseNotFound)
            #expect(error?.status == 404)
            #expect(error?.requestID?.count == 32)
        }
    }

    @Test(
        "a wrong secret fails at once with the server's code over either transport",
        arguments: LockClient.Transport.allCases
    )
    func wrongSecret(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let wrong = SigV4Credentials(accessKeyID: server.credentials.accessKeyID, secretAccessKey: "wrong")
            let client = LockClient(
                configuration: .init(endpoint: server.endpoint, credentials: wrong, transport: transport)
            )
            for _ in 0..<3 {
                let error = await #expect(throws: LockClientError.self) {
                    try await client.grantLease(ttl: .seconds(10))
                }
                #expect(error?.code == "SignatureDoesNotMatch")
                #expect(error?.status == 403)
            }
            // Every call is answered over HTTP; a session is asked for once, not before every call.
            #expect(server.requestCount(route: "/_palisade/v1/leases", method: "POST", status: 403) == 3)
            let refusedSessions = server.requestCount(route: "/_palisade/v1/session", status: 403)
            #expect(refusedSessions == (transport == .session ? 1 : 0))
        }
    }

    @Test("after the server refuses a session, calls go over HTTP for 30 s; then a session is asked for again")
    func refusedSessionIsAskedForAgainLater() async throws {
        final class TimeTravel: Sendable {
            let offset = Mutex(Duration.zero)
        }
        try await withTestServer { server in
            let travel = TimeTravel()
            let wrong = SigV4Credentials(accessKeyID: server.credentials.accessKeyID, secretAccessKey: "wrong")
            let client = LockClient(
                configuration: .init(endpoint: server.endpoint, credentials: wrong, transport: .session),
                httpClient: LockClient.sharedHTTPClient,
                now: { .now + travel.offset.withLock { $0 } }
            )
            func refusedSessions(after elapsed: Duration) async -> Int {
                travel.offset.withLock { $0 = elapsed }
                // Refused either way (the key is wrong); what matters is how the call travels.
                _ = try? await client.grantLease(ttl: .seconds(10))
                return server.requestCount(route: "/_palisade/v1/session", status: 403)
            }
            #expect(await refusedSessions(after: .zero) == 1)
            #expect(await refusedSessions(after: .seconds(29)) == 1)
            #expect(await refusedSessions(after: .seconds(31)) == 2)
            #expect(await refusedSessions(after: .seconds(32)) == 2)
        }
    }

    @Test("inspect, watch and force-release through LockClient", arguments: LockClient.Transport.allCases)
    func watchesAndAdmin(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let client = server.client(transport: transport)
            let lease = try await client.grantLease(ttl: .seconds(10))
            let grant = try await client.acquire("w", lease: lease.leaseID, wait: .zero)
            let inspected = try await client.lease(lease.leaseID)
            #expect(inspected.locks == [HeldLock(name: "w", token: grant.token, mode: .exclusive)])

            let stillHeld = try await client.watchLock("w", token: grant.token, wait: .zero)
            #expect(stillHeld.held)
            async let lockLoss = client.watchLock("w", token: grant.token, wait: .seconds(30))
            async let leaseLoss = client.watchLease(lease.leaseID, wait: .seconds(30))
            // Bounded by time, not by yields: a loaded machine may take a while to register them.
            for _ in 0..<1_000 where await server.locks.watchCount < 2 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await server.locks.watchCount == 2, "both watches were registered")
            let forced = try await client.forceRelease("w")
            #expect(forced.released.map(\.token) == [grant.token])
            let lockWatch = try await lockLoss
            #expect(lockWatch == WatchResponse(held: false, reason: .forceReleased, leaseRemainingMilliseconds: nil))
            _ = try await client.revokeLease(lease.leaseID)
            let leaseWatch = try await leaseLoss
            #expect(leaseWatch == WatchResponse(held: false, reason: .revoked, leaseRemainingMilliseconds: nil))
        }
    }

    @Test("connection failures are retried, then reported as ConnectionFailed")
    func connectionFailure() async throws {
        let httpClient = LockClient.makeHTTPClient(connectTimeout: .milliseconds(200))
        let client = LockClient(
            configuration: .init(
                endpoint: "http://127.0.0.1:1",
                credentials: testCredentials,
                maximumAttempts: 3,
                initialBackoff: .milliseconds(1)
            ),
            httpClient: httpClient
        )
        let error = await #expect(throws: LockClientError.self) { try await client.grantLease(ttl: .seconds(5)) }
        try await httpClient.shutdown()
        #expect(error?.code == LockClientError.connectionFailedCode)
        #expect(error?.message.contains("3 attempt") == true)
    }
}

extension LockClient.Transport: CustomTestStringConvertible {
    public var testDescription: String { self == .http ? "HTTP" : "lock session" }
}
