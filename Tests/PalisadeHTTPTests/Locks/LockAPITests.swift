import Foundation
import PalisadeAuth
import PalisadeProtocol
import PalisadeTestSupport
import Testing

@Suite("Lock API over HTTP against a live server")
struct LockAPITests {
    @Test("leases: grant, inspect, keep-alive, watch, revoke")
    func leaseLifecycle() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let granted = try await api.send("POST", "/_palisade/v1/leases", json: ["ttl_ms": 5000])
            #expect(granted.status == 201)
            let id = try #require(granted["lease_id"] as? String)
            #expect(granted["ttl_ms"] as? Int == 5000)
            #expect((granted["remaining_ms"] as? Int).map { $0 > 4000 } == true)

            _ = try await api.acquire("a", lease: id)
            let inspected = try await api.send("GET", "/_palisade/v1/leases/\(id)")
            #expect(inspected.status == 200)
            #expect((inspected["locks"] as? [[String: Any]])?.first?["name"] as? String == "a")

            let renewed = try await api.send("POST", "/_palisade/v1/leases/\(id)/keepalive")
            #expect(renewed.status == 200)
            #expect((renewed["remaining_ms"] as? Int).map { $0 > 4000 } == true)

            let watch = try await api.send("POST", "/_palisade/v1/leases/\(id)/watch", json: ["wait_ms": 0])
            #expect(watch["held"] as? Bool == true)

            let revoked = try await api.send("DELETE", "/_palisade/v1/leases/\(id)")
            #expect(revoked.status == 200)
            #expect((revoked["released"] as? [[String: Any]])?.count == 1)
            let gone = try await api.send("GET", "/_palisade/v1/leases/\(id)")
            #expect(gone.status == 404 && gone.code == LockAPIErrorCode.leaseNotFound)
            let lost = try await api.send("POST", "/_palisade/v1/leases/\(id)/watch", json: ["wait_ms": 1000])
            #expect(lost["held"] as? Bool == false)
        }
    }

    @Test("locks: acquire, status with queue positions, validate, release, force-release")
    func lockLifecycle() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let first = try await api.lease()
            let second = try await api.lease()
            let name = "orders/2026/42 ünïcode"
            let grant = try await api.acquire(name, lease: first)
            #expect(grant.status == 200)
            let token = try #require(grant["token"] as? Int)
            #expect(grant["mode"] as? String == "exclusive")
            // What is left of the 10 s lease: how much depends on how long the calls took.
            #expect((grant["lease_remaining_ms"] as? Int).map { (1...10_000).contains($0) } == true)
            let retried = try await api.acquire(name, lease: first)
            #expect(retried["token"] as? Int == token)

            async let queued = api.acquire(name, lease: second, waitMilliseconds: 20_000)
            var status = RawLockAPI.Answer(status: 0, headers: [], json: [:])
            for _ in 0..<200 {
                status = try await api.send("GET", "/_palisade/v1/locks", query: "name=" + SigV4.uriEncode(name))
                if (status["waiters"] as? [[String: Any]])?.isEmpty == false { break }
            }
            let waiters = try #require(status["waiters"] as? [[String: Any]])
            #expect(waiters.first?["lease_id"] as? String == second)
            #expect(waiters.first?["position"] as? Int == 1)
            #expect((status["holders"] as? [[String: Any]])?.first?["token"] as? Int == token)

            let valid = try await api.send(
                "POST",
                "/_palisade/v1/locks/validate",
                json: ["name": name, "token": token]
            )
            #expect(valid["valid"] as? Bool == true)

            let released = try await api.send(
                "POST",
                "/_palisade/v1/locks/release",
                json: ["name": name, "lease_id": first, "token": token]
            )
            #expect(released["outcome"] as? String == "released")
            let again = try await api.send(
                "POST",
                "/_palisade/v1/locks/release",
                json: ["name": name, "lease_id": first, "token": token]
            )
            #expect(again["outcome"] as? String == "already_released")

            let handedOver = try await queued
            #expect(handedOver.status == 200)
            let nextToken = try #require(handedOver["token"] as? Int)
            #expect(nextToken > token)
            let stale = try await api.send(
                "POST",
                "/_palisade/v1/locks/validate",
                json: ["name": name, "token": token]
            )
            #expect(stale["valid"] as? Bool == false)

            let forced = try await api.send("POST", "/_palisade/v1/admin/locks/force-release", json: ["name": name])
            #expect((forced["released"] as? [[String: Any]])?.first?["token"] as? Int == nextToken)
            let delayed = try await api.send("GET", "/_palisade/v1/locks", query: "name=" + SigV4.uriEncode(name))
            #expect((delayed["lock_delay_remaining_ms"] as? Int).map { $0 > 0 } == true)
        }
    }

    @Test("shared mode: readers together, then the writer")
    func sharedMode() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let readers = [try await api.lease(), try await api.lease()]
            let writer = try await api.lease()
            for reader in readers { #expect(try await api.acquire("doc", lease: reader, mode: "shared").status == 200) }
            #expect(try await api.acquire("doc", lease: writer).code == LockAPIErrorCode.lockHeld)
            for reader in readers { _ = try await api.send("DELETE", "/_palisade/v1/leases/\(reader)") }
            #expect(try await api.acquire("doc", lease: writer).status == 200)
        }
    }

    @Test(
        "each bad request gets its error code and status",
        arguments: [
            ("POST", "/_palisade/v1/leases", #"{"ttl_ms": 500}"#, 400, LockAPIErrorCode.invalidTTL),
            ("POST", "/_palisade/v1/leases", #"{"ttl_ms": 3600001}"#, 400, LockAPIErrorCode.invalidTTL),
            ("POST", "/_palisade/v1/leases", #"{"ttl_ms": "ten"}"#, 400, LockAPIErrorCode.invalidTTL),
            ("POST", "/_palisade/v1/leases", #"{"ttl_ms": 1000"#, 400, LockAPIErrorCode.malformedRequest),
            ("POST", "/_palisade/v1/leases", "", 400, LockAPIErrorCode.malformedRequest),
            (
                "POST", "/_palisade/v1/locks/acquire", #"{"lease_id":"00000000000000000000000000000001"}"#, 400,
                LockAPIErrorCode.invalidArgument
            ),
            (
                "POST", "/_palisade/v1/locks/acquire",
                #"{"name":"a\u0007b","lease_id":"00000000000000000000000000000001"}"#, 400,
                LockAPIErrorCode.invalidLockName
            ),
            (
                "POST", "/_palisade/v1/locks/acquire", #"{"name":"a","lease_id":"nope"}"#, 400,
                LockAPIErrorCode.invalidArgument
            ),
            (
                "POST", "/_palisade/v1/locks/acquire",
                #"{"name":"a","lease_id":"00000000000000000000000000000001","mode":"weird"}"#, 400,
                LockAPIErrorCode.invalidArgument
            ),
            (
                "POST", "/_palisade/v1/locks/acquire", #"{"name":"a","lease_id":"00000000000000000000000000000001"}"#,
                404, LockAPIErrorCode.leaseNotFound
            ),
            (
                "POST", "/_palisade/v1/leases/00000000000000000000000000000001/keepalive", "", 404,
                LockAPIErrorCode.leaseNotFound
            ),
            (
                "DELETE", "/_palisade/v1/leases/00000000000000000000000000000001", "", 404,
                LockAPIErrorCode.leaseNotFound
            ),
            ("GET", "/_palisade/v1/leases/not-an-id", "", 400, LockAPIErrorCode.invalidArgument),
            ("GET", "/_palisade/v1/locks", "", 400, LockAPIErrorCode.invalidLockName),
            ("POST", "/_palisade/v1/locks/watch", #"{"wait_ms": 10}"#, 400, LockAPIErrorCode.invalidArgument),
            ("GET", "/_palisade/v1/nothing-here", "", 404, LockAPIErrorCode.notFound),
        ]
    )
    func badRequests(method: String, path: String, body: String, status: Int, code: String) async throws {
        try await withTestServer { server in
            let answer = try await RawLockAPI(server: server).send(method, path, raw: body)
            #expect(answer.status == status)
            #expect(answer.code == code)
            #expect(answer["message"] as? String != nil)
            #expect(answer["request_id"] as? String == answer.header(PalisadeHeaders.requestID))
        }
    }

    @Test("a lock name of 1024 bytes is accepted and one of 1025 bytes is refused")
    func nameLength() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let lease = try await api.lease()
            #expect(try await api.acquire(String(repeating: "é", count: 512), lease: lease).status == 200)
            let long = try await api.acquire(String(repeating: "x", count: 1025), lease: lease)
            #expect(long.status == 400 && long.code == LockAPIErrorCode.invalidLockName)
        }
    }

    @Test("conflicts: not the holder, held, wrong mode, wait timeout, oversized body")
    func conflicts() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let holder = try await api.lease()
            let other = try await api.lease()
            let token = try #require(try await api.acquire("a", lease: holder)["token"] as? Int)
            let notHolder = try await api.send(
                "POST",
                "/_palisade/v1/locks/release",
                json: ["name": "a", "lease_id": other, "token": token]
            )
            #expect(notHolder.status == 409 && notHolder.code == LockAPIErrorCode.notHolder)
            let held = try await api.acquire("a", lease: other)
            #expect(held.status == 409 && held.code == LockAPIErrorCode.lockHeld)
            let mode = try await api.acquire("a", lease: holder, mode: "shared")
            #expect(mode.status == 409 && mode.code == LockAPIErrorCode.modeConflict)
            let timeout = try await api.acquire("a", lease: other, waitMilliseconds: 100)
            #expect(timeout.status == 408 && timeout.code == LockAPIErrorCode.waitTimeout)
            let huge = try await api.send(
                "POST",
                "/_palisade/v1/leases",
                raw: String(repeating: " ", count: 70_000) + "{}"
            )
            #expect(huge.status == 413 && huge.code == LockAPIErrorCode.requestTooLarge, "\(huge.status) \(huge.json)")
        }
    }

    @Test("authentication: unsigned 401, unknown key, wrong secret and skewed clock 403")
    func authentication() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let unsigned = try await api.send("POST", "/_palisade/v1/leases", json: ["ttl_ms": 5000], signed: false)
            #expect(unsigned.status == 401 && unsigned.code == LockAPIErrorCode.missingAuthentication)
            let stranger = try await api.send(
                "POST",
                "/_palisade/v1/leases",
                json: ["ttl_ms": 5000],
                credentials: SigV4Credentials(accessKeyID: "NOBODY", secretAccessKey: "x")
            )
            #expect(stranger.status == 403 && stranger.code == LockAPIErrorCode.invalidAccessKeyID)
            let wrongSecret = try await api.send(
                "POST",
                "/_palisade/v1/leases",
                json: ["ttl_ms": 5000],
                credentials: SigV4Credentials(accessKeyID: server.credentials.accessKeyID, secretAccessKey: "wrong")
            )
            #expect(wrongSecret.status == 403 && wrongSecret.code == LockAPIErrorCode.signatureDoesNotMatch)
            let skewed = try await api.send(
                "POST",
                "/_palisade/v1/leases",
                json: ["ttl_ms": 5000],
                date: Date().addingTimeInterval(-20 * 60)
            )
            #expect(skewed.status == 403 && skewed.code == LockAPIErrorCode.requestTimeTooSkewed)
        }
    }

    @Test("health and metrics are served without signing; metrics count grants")
    func healthAndMetrics() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let health = try await api.send("GET", "/_palisade/health", signed: false)
            #expect(health.status == 200 && health["status"] as? String == "ok")
            let lease = try await api.lease()
            _ = try await api.acquire("m", lease: lease)
            let (status, text) = try await api.text("/_palisade/metrics")
            #expect(status == 200)
            #expect(text.contains("palisade_lock_grants_total 1"))
            #expect(text.contains("palisade_leases 1"))
            #expect(text.contains("palisade_http_request_duration_seconds"))
        }
    }

    @Test("the waiter gauge counts the acquires that wait, and drops to 0 when they are granted")
    func waiterGauge() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let holder = try await api.lease()
            let grant = try #require(try await api.acquire("busy", lease: holder)["token"] as? Int)
            func waiters() async throws -> Double? {
                try await api.text("/_palisade/metrics").body.split(separator: "\n")
                    .first { $0.hasPrefix("palisade_lock_waiters ") }.flatMap { Double($0.split(separator: " ")[1]) }
            }
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<5 {
                    let lease = try await api.lease()
                    group.addTask {
                        try await api.send(
                            "POST",
                            "/_palisade/v1/locks/acquire",
                            json: ["name": "busy", "lease_id": lease, "mode": "shared", "wait_ms": 20_000]
                        ).json.description
                    }
                }
                let deadline = ContinuousClock.now + .seconds(10)
                while try await waiters() != 5, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await waiters() == 5)
                _ = try await api.send(
                    "POST",
                    "/_palisade/v1/locks/release",
                    json: ["name": "busy", "lease_id": holder, "token": grant]
                )
                for try await answer in group { #expect(answer.contains("token"), "\(answer)") }
            }
            #expect(try await waiters() == 0)
        }
    }
}
