import Foundation
import PalisadeTestSupport
import Testing

/// The lock service's ordering rules, seen through the HTTP API on a manual clock.
@Suite("Lock-delay and FIFO hand-off over HTTP")
struct LockOrderTests {
    /// Waits (bounded) until `count` acquires wait for `name`.
    static func waitUntilQueued(_ api: RawLockAPI, _ name: String, count: Int) async throws {
        for _ in 0..<2_000 {
            let status = try await api.send("GET", "/_palisade/v1/locks", query: "name=\(name)")
            if ((status["waiters"] as? [Any])?.count ?? 0) >= count { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("\(count) waiter(s) never queued on '\(name)'")
    }

    @Test("after the holder's lease expires, the lock-delay withholds the grant, to the nanosecond")
    func lockDelayWithholdsTheGrant() async throws {
        let clock = ManualClock()
        try await withTestServer(clock: clock, configuration: .init(rules: .init(lockDelay: .seconds(1)))) { server in
            let api = RawLockAPI(server: server)
            let holder = try await api.lease(ttlMilliseconds: 10_000)
            #expect(try await api.acquire("d", lease: holder).status == 200)
            let next = try await api.lease(ttlMilliseconds: 60_000)
            clock.advance(by: .seconds(10))
            let early = try await api.acquire("d", lease: next)
            #expect(early.status == 409 && early.code == "LockHeld", "the lock-delay after an expiry")
            #expect("\(early["message"] ?? "")".contains("lock-delay"))
            let waiting = Task { try await api.acquire("d", lease: next, waitMilliseconds: 30_000).status }
            try await Self.waitUntilQueued(api, "d", count: 1)
            clock.advance(by: .seconds(1) - .nanoseconds(1))
            let during = try await api.send("GET", "/_palisade/v1/locks", query: "name=d")
            #expect((during["holders"] as? [Any])?.isEmpty == true, "nobody holds the lock during its lock-delay")
            clock.advance(by: .nanoseconds(1))
            #expect(try await waiting.value == 200)
        }
    }

    @Test("when the token high-water mark cannot be written, a grant past the reserved tokens answers 503; it resumes")
    func tokensUnavailable() async throws {
        try await withTestServer(clock: ManualClock(), configuration: .init(tokenReservation: 4)) { server in
            let api = RawLockAPI(server: server)
            let lease = try await api.lease(ttlMilliseconds: 60_000)
            // A folder where the mark's temporary file goes: the mark cannot be written.
            let blocker = server.dataDirectory + "/fencing-tokens.hwm.tmp"
            try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
            var answers: [Int] = []
            for index in 0..<6 { answers.append(try await api.acquire("t\(index)", lease: lease).status) }
            #expect(answers.prefix(4).allSatisfy { $0 == 200 }, "the reserved tokens are issued: \(answers)")
            let refused = try await api.acquire("t-refused", lease: lease)
            #expect(refused.status == 503 && refused.code == "ServiceUnavailable")
            try FileManager.default.removeItem(atPath: blocker)
            #expect(try await api.acquire("t-resumed", lease: lease).status == 200)
        }
    }

    @Test("waiters are granted in the order they queued, one after another")
    func firstInFirstOut() async throws {
        try await withTestServer(clock: ManualClock(), configuration: .init(rules: .init(lockDelay: .zero))) { server in
            let api = RawLockAPI(server: server)
            let holder = try await api.lease(ttlMilliseconds: 60_000)
            let first = try await api.acquire("q", lease: holder)
            /// A waiter's grant: the status, the lease it went to, and its token.
            typealias Grant = (status: Int, lease: String?, token: Int?)
            var waiters: [(lease: String, answer: Task<Grant, any Error>)] = []
            for index in 1...4 {
                let lease = try await api.lease(ttlMilliseconds: 60_000)
                let answer = Task { () async throws -> Grant in
                    let grant = try await api.acquire("q", lease: lease, waitMilliseconds: 30_000)
                    return (grant.status, grant["lease_id"] as? String, grant["token"] as? Int)
                }
                waiters.append((lease, answer))
                try await Self.waitUntilQueued(api, "q", count: index)
            }
            var previous = (lease: holder, token: try #require(first["token"] as? Int))
            for waiter in waiters {
                let released = try await api.send(
                    "POST",
                    "/_palisade/v1/locks/release",
                    json: ["name": "q", "lease_id": previous.lease, "token": previous.token]
                )
                #expect(released["outcome"] as? String == "released")
                let grant = try await waiter.answer.value
                #expect(grant.status == 200 && grant.lease == waiter.lease)
                let token = try #require(grant.token)
                #expect(token > previous.token)
                previous = (waiter.lease, token)
            }
        }
    }
}
