import EtcdCluster
import Foundation
import PalisadeClient
import PalisadeProtocol
import PalisadeTestSupport
import Synchronization
import Testing

/// Values appended from several tasks.
final class Appended<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])

    func append(_ value: Value) { values.withLock { $0.append(value) } }

    var all: [Value] { values.withLock { $0 } }
}

func errorCode(_ body: () async throws -> Void) async -> String? {
    do { try await body() } catch let error as LockClientError { return error.code } catch { return "\(error)" }
    return nil
}

@Suite("Cluster mode: the lock API on etcd, through several gateways")
struct ClusterLockTests {
    @Test("a lease granted through one gateway acquires through another; every gateway tells the same status")
    func leaseAcrossGateways() async throws {
        try await withTestGateways(count: 2) { gateways in
            let (a, b) = (gateways[0].client, gateways[1].client)
            let lease = try await a.grantLease(ttl: .seconds(30))
            let grant = try await b.acquire("doc", lease: lease.leaseID, wait: .zero)
            for client in [a, b] {
                let status = try await client.status("doc")
                #expect(status.holders.map(\.token) == [grant.token])
                #expect(status.holders.map(\.leaseID) == [lease.leaseID])
            }
            #expect(try await a.lease(lease.leaseID).locks.map(\.token) == [grant.token])
            // A retried acquire gets the same grant; a second lease is refused while it is held.
            #expect(try await a.acquire("doc", lease: lease.leaseID, wait: .zero).token == grant.token)
            let other = try await b.grantLease(ttl: .seconds(30))
            #expect(await errorCode { _ = try await a.acquire("doc", lease: other.leaseID, wait: .zero) } == "LockHeld")
            #expect(try await a.validate("doc", token: grant.token).valid)
            _ = try await b.release("doc", lease: lease.leaseID, token: grant.token)
            #expect(try await a.release("doc", lease: lease.leaseID, token: grant.token).outcome == .alreadyReleased)
            #expect(try await b.validate("doc", token: grant.token).valid == false)
            let next = try await a.acquire("doc", lease: other.leaseID, wait: .zero)
            #expect(next.token > grant.token)
        }
    }

    @Test("8 clients × 12 acquisitions of one lock through 3 gateways: no overlap, tokens increase in grant order")
    func mutualExclusion() async throws {
        try await withTestGateways(count: 3) { gateways in
            let log = CriticalSectionLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<8 {
                    group.addTask {
                        try await gateways[client % 3].client.withLease(ttl: .seconds(30)) { session in
                            for _ in 0..<12 {
                                let grant = try await session.acquire("hot", wait: .seconds(60))
                                log.enter(grant.token)
                                try await Task.sleep(for: .milliseconds(1))
                                log.leave()
                                try await session.release(grant)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let tokens = log.tokens
            #expect(tokens.count == 96)
            #expect(log.overlaps == 0)
            #expect(zip(tokens, tokens.dropFirst()).allSatisfy { $0 < $1 })
        }
    }

    @Test("waiters on other gateways are served in arrival order; a wait ends with WaitTimeout at its deadline")
    func fifoAcrossGateways() async throws {
        try await withTestGateways(count: 3) { gateways in
            let holder = try await gateways[0].client.grantLease(ttl: .seconds(30))
            let first = try await gateways[0].client.acquire("q", lease: holder.leaseID, wait: .zero)
            let order = Appended<Int>()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for waiter in 1...2 {
                    let client = gateways[waiter].client
                    let lease = try await client.grantLease(ttl: .seconds(30))
                    group.addTask {
                        let grant = try await client.acquire("q", lease: lease.leaseID, wait: .seconds(30))
                        order.append(waiter)
                        #expect(grant.token > first.token)
                        _ = try await client.release("q", lease: lease.leaseID, token: grant.token)
                    }
                    // The next waiter arrives only once this one is queued.
                    while try await client.status("q").waiters.count < waiter {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                let late = try await gateways[1].client.grantLease(ttl: .seconds(30))
                let started = ContinuousClock.now
                #expect(
                    await errorCode {
                        _ = try await gateways[1].client.acquire("q", lease: late.leaseID, wait: .milliseconds(300))
                    } == "WaitTimeout"
                )
                #expect(ContinuousClock.now - started >= .milliseconds(300))
                _ = try await gateways[0].client.release("q", lease: holder.leaseID, token: first.token)
                try await group.waitForAll()
            }
            #expect(order.all == [1, 2])
            #expect(try await gateways[2].client.status("q").waiters.isEmpty)
        }
    }

    @Test("a release wakes the head of the queue, and each grant the next in line: not every waiter")
    func releaseWakesOnlyTheHead() async throws {
        try await withTestGateways(count: 2) { gateways in
            let backends = try gateways.map { try #require($0.locks as? EtcdLockBackend) }
            let holder = try await gateways[0].client.grantLease(ttl: .seconds(30))
            var token = try await gateways[0].client.acquire("herd", lease: holder.leaseID, wait: .zero).token
            let waiters = 8
            try await withThrowingTaskGroup(of: Void.self) { group in
                var leases: [LeaseID] = []
                for index in 0..<waiters {
                    let client = gateways[index % 2].client
                    let lease = try await client.grantLease(ttl: .seconds(30)).leaseID
                    leases.append(lease)
                    group.addTask { _ = try await client.acquire("herd", lease: lease, wait: .seconds(60)) }
                }
                while try await gateways[0].client.status("herd").waiters.count < waiters {
                    try await Task.sleep(for: .milliseconds(20))
                }
                // Each waiter may have woken while the queue formed behind it; count from here.
                try await Task.sleep(for: .milliseconds(200))
                let before = backends.map(\.waitWakeUps).reduce(0, +)
                var owner = holder.leaseID
                for _ in 0..<waiters {
                    _ = try await gateways[0].client.release("herd", lease: owner, token: token)
                    var status = try await gateways[1].client.status("herd")
                    while status.holders.isEmpty {
                        try await Task.sleep(for: .milliseconds(10))
                        status = try await gateways[1].client.status("herd")
                    }
                    (owner, token) = (status.holders[0].leaseID, status.holders[0].token)
                }
                try await group.waitForAll()
                let wakeUps = backends.map(\.waitWakeUps).reduce(0, +) - before
                // The head wakes at each release, the next in line at each grant: 2 per hand-off,
                // where waking every waiter would cost 8 + 7 + … + 1 = 36 or more.
                #expect(wakeUps <= 2 * waiters, "\(wakeUps) wake-ups for \(waiters) hand-offs")
            }
        }
    }

    @Test(
        "a holder's lease expires: the waiter gets the lock after the lock-delay; the old holder's fenced write is refused"
    )
    func expiryAndPausedWriter() async throws {
        try await withTestGateways(count: 2, configuration: .init(lockDelay: .milliseconds(500))) { gateways in
            let (a, b) = (gateways[0], gateways[1])
            let s3a = S3TestClient(endpoint: a.endpoint, credentials: a.credentials)
            let s3b = S3TestClient(endpoint: b.endpoint, credentials: b.credentials)
            // Kept alive until its first write, however slow the machine; then it pauses.
            let paused = try await a.client.grantLease(ttl: .seconds(10))
            let old = try await a.client.acquire("bucket/doc", lease: paused.leaseID, wait: .zero)
            _ = try await a.client.keepAlive(paused.leaseID)
            #expect(try await s3a.send("PUT", "/bucket").status == 200)
            _ = try await a.client.keepAlive(paused.leaseID)
            let fenced = { (token: FencingToken) -> [(name: String, value: String)] in
                [("x-palisade-lock", "bucket/doc"), ("x-palisade-fencing-token", token.description)]
            }
            #expect(
                try await s3a.send("PUT", "/bucket/doc", headers: fenced(old.token), body: Array("v1".utf8)).status
                    == 200
            )
            // The holder pauses: no keep-alive. The next client waits on the other gateway.
            let next = try await b.client.grantLease(ttl: .seconds(30))
            let grant = try await b.client.acquire("bucket/doc", lease: next.leaseID, wait: .seconds(30))
            #expect(grant.token > old.token)
            let status = try await b.client.status("bucket/doc")
            #expect(status.holders.map(\.leaseID) == [next.leaseID])
            #expect(
                try await s3b.send("PUT", "/bucket/doc", headers: fenced(grant.token), body: Array("v2".utf8)).status
                    == 200
            )
            // The paused holder wakes up and writes with its old token, through either gateway.
            for s3 in [s3a, s3b] {
                let stale = try await s3.send(
                    "PUT",
                    "/bucket/doc",
                    headers: fenced(old.token),
                    body: Array("stale".utf8)
                )
                #expect(stale.status == 409)
                #expect(["StaleFencingToken", "LockNotHeld"].contains(stale.errorCode ?? ""))
            }
            #expect(try await s3a.send("GET", "/bucket/doc").text == "v2")
        }
    }

    @Test("a fenced write whose holder's lease ended is refused even with the highest token (LockNotHeld)")
    func liveHolderAtCommit() async throws {
        try await withTestGateways(count: 2) { gateways in
            let s3 = S3TestClient(endpoint: gateways[1].endpoint, credentials: gateways[1].credentials)
            #expect(try await s3.send("PUT", "/bucket").status == 200)
            let lease = try await gateways[0].client.grantLease(ttl: .seconds(30))
            let grant = try await gateways[0].client.acquire("bucket/", lease: lease.leaseID, wait: .zero)
            let headers = [("x-palisade-lock", "bucket/"), ("x-palisade-fencing-token", grant.token.description)]
            #expect(try await s3.send("PUT", "/bucket/k", headers: headers, body: Array("held".utf8)).status == 200)
            _ = try await gateways[0].client.revokeLease(lease.leaseID)
            let refused = try await s3.send("PUT", "/bucket/k", headers: headers, body: Array("after revoke".utf8))
            #expect(refused.status == 409)
            #expect(refused.errorCode == "LockNotHeld")
            #expect(try await s3.send("GET", "/bucket/k").text == "held")
        }
    }

    @Test("force-release: the holder's watch says force_released, and the lock-delay follows")
    func forceRelease() async throws {
        try await withTestGateways(count: 2, configuration: .init(lockDelay: .seconds(4))) { gateways in
            let (a, b) = (gateways[0].client, gateways[1].client)
            let lease = try await a.grantLease(ttl: .seconds(30))
            let grant = try await a.acquire("ops", lease: lease.leaseID, wait: .zero)
            async let watch = a.watchLock("ops", token: grant.token, wait: .seconds(20))
            try await Task.sleep(for: .milliseconds(200))
            let released = try await b.forceRelease("ops")
            #expect(released.released.map(\.token) == [grant.token])
            #expect(try await watch.reason == .forceReleased)
            let other = try await b.grantLease(ttl: .seconds(30))
            #expect(await errorCode { _ = try await b.acquire("ops", lease: other.leaseID, wait: .zero) } == "LockHeld")
            #expect(try await b.status("ops").lockDelayRemainingMilliseconds > 0)
            let started = ContinuousClock.now
            let after = try await b.acquire("ops", lease: other.leaseID, wait: .seconds(10))
            #expect(after.token > grant.token)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("shared holders hold together through different gateways; an exclusive acquire waits for them all")
    func sharedAndExclusive() async throws {
        try await withTestGateways(count: 2) { gateways in
            let (a, b) = (gateways[0].client, gateways[1].client)
            let r1 = try await a.grantLease(ttl: .seconds(30))
            let r2 = try await b.grantLease(ttl: .seconds(30))
            let g1 = try await a.acquire("table", lease: r1.leaseID, mode: .shared, wait: .zero)
            let g2 = try await b.acquire("table", lease: r2.leaseID, mode: .shared, wait: .zero)
            #expect(try await a.status("table").holders.count == 2)
            let writer = try await a.grantLease(ttl: .seconds(30))
            #expect(
                await errorCode { _ = try await b.acquire("table", lease: writer.leaseID, wait: .zero) } == "LockHeld"
            )
            async let exclusive = b.acquire("table", lease: writer.leaseID, wait: .seconds(20))
            try await Task.sleep(for: .milliseconds(200))
            _ = try await a.release("table", lease: r1.leaseID, token: g1.token)
            _ = try await b.release("table", lease: r2.leaseID, token: g2.token)
            let granted = try await exclusive
            #expect(granted.token > max(g1.token, g2.token))
            #expect(granted.mode == .exclusive)
        }
    }
}
