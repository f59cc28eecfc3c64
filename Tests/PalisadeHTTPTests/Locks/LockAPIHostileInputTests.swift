import Foundation
import LockEngine
import PalisadeAuth
import PalisadeTestSupport
import Testing

@Suite("Lock API: hostile and malformed requests are refused in the lock API's JSON, and change nothing")
struct LockAPIHostileInputTests {
    @Test("UNSIGNED-PAYLOAD is refused: no lock API body takes effect unless the signature covers it")
    func unsignedPayload() async throws {
        try await withTestServer { server in
            let api = RawLockAPI(server: server)
            let fence = try await api.send(
                "PUT",
                "/_palisade/v1/admin/fencing",
                json: ["path": "bucket", "fenced": true],
                payloadHash: SigV4.unsignedPayload
            )
            #expect(fence.status == 400 && fence.code == "XAmzContentSHA256Mismatch", "\(fence.json)")
            let fenced = try await api.send("GET", "/_palisade/v1/admin/fencing")
            #expect((fenced["fenced_paths"] as? [String]) == [])
            let lease = try await api.send(
                "POST",
                "/_palisade/v1/leases",
                json: ["ttl_ms": 10_000],
                payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
            )
            #expect(lease.status == 400 && lease.code == "XAmzContentSHA256Mismatch")
        }
    }

    @Test(
        "a truncated body is 400 MalformedRequest, signed or not, never a 500",
        arguments: [true, false]
    )
    func truncatedBody(signed: Bool) async throws {
        try await withTestServer { server in
            let head =
                signed
                ? server.s3.signedRequestHead("POST", "/_palisade/v1/leases", headers: [("content-length", "100")])
                : "POST /_palisade/v1/leases HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n"
            let answer = await rawExchange(port: server.port, Array((head + #"{"ttl_ms":"#).utf8), closeWriteSide: true)
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
            #expect(answer.contains(#""code":"MalformedRequest""#))
            #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "exactly one response: \(answer)")
        }
    }

    @Test(
        "a number out of range names its field, and token 0 (never issued) is refused",
        arguments: [
            ("/_palisade/v1/leases", #"{"ttl_ms": 1e30}"#, "InvalidTTL"),
            ("/_palisade/v1/leases", #"{"ttl_ms": 99999999999999999999}"#, "InvalidTTL"),
            ("/_palisade/v1/locks/validate", #"{"name": "l", "token": -1}"#, "InvalidArgument"),
            ("/_palisade/v1/locks/validate", #"{"name": "l", "token": 18446744073709551616}"#, "InvalidArgument"),
            ("/_palisade/v1/locks/validate", #"{"name": "l", "token": 0}"#, "InvalidArgument"),
            (
                "/_palisade/v1/locks/release",
                #"{"name": "l", "lease_id": "00000000000000000000000000000000", "token": 0}"#, "InvalidArgument"
            ),
        ]
    )
    func outOfRangeNumbers(path: String, body: String, code: String) async throws {
        try await withTestServer { server in
            let answer = try await RawLockAPI(server: server).send("POST", path, raw: body)
            #expect(answer.status == 400 && answer.code == code, "\(answer.json)")
            #expect((answer["message"] as? String)?.contains("not valid JSON") == false)
        }
    }

    @Test("an Upgrade header on a reused connection is ignored outside the session endpoint, not redirected")
    func upgradeOnReusedConnection() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            _ = try await server.s3.send("PUT", "/bucket/k", body: Array("value".utf8))
            let first = server.s3.signedRequestHead("GET", "/bucket/k", headers: [])
            // Added in flight (unsigned), as a proxy or an attacker would.
            let second = server.s3.signedRequestHead("GET", "/bucket/k", headers: []).replacingOccurrences(
                of: "\r\n\r\n",
                with: "\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n"
            )
            let answer = await rawExchange(port: server.port, Array((first + second).utf8), closeWriteSide: true)
            let statuses = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "200"], "\(answer)")
        }
    }

    @Test("an unsigned PUT whose body is cut short gets exactly one answer")
    func unsignedTruncatedPut() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let head = "PUT /bucket/k HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n"
            let answer = await rawExchange(port: server.port, Array((head + "short").utf8), closeWriteSide: true)
            #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "\(answer)")
            #expect(answer.hasPrefix("HTTP/1.1 403"))
        }
    }

    @Test("an access key's leases and waiting acquires are bounded: 429 TooManyLeases and TooManyWaiters")
    func perKeyLimits() async throws {
        let configuration = LockService<ContinuousClock>.Configuration(
            rules: .init(maximumLeasesPerOwner: 3, maximumWaitersPerOwner: 1)
        )
        try await withTestServer(clock: ContinuousClock(), configuration: configuration) { server in
            let api = RawLockAPI(server: server)
            let leases = try await [api.lease(), api.lease(), api.lease()]
            let fourth = try await api.send("POST", "/_palisade/v1/leases", json: ["ttl_ms": 10_000])
            #expect(fourth.status == 429 && fourth.code == "TooManyLeases", "\(fourth.json)")
            _ = try await api.acquire("held", lease: leases[0])
            let waiting = Task { try await api.acquire("held", lease: leases[1], waitMilliseconds: 5_000).status }
            try await Task.sleep(for: .milliseconds(300))
            let refused = try await api.acquire("held", lease: leases[2], waitMilliseconds: 5_000)
            #expect(refused.status == 429 && refused.code == "TooManyWaiters", "\(refused.json)")
            _ = try await api.send("DELETE", "/_palisade/v1/leases/\(leases[0])")
            #expect(try await waiting.value == 200)
        }
    }

    @Test(
        "a lock API request the HTTP parser rejects is answered in the lock API's JSON, and closed",
        arguments: [
            "POST /_palisade/v1/leases HTTP/1.1\r\nhost: x\r\ncontent-length: ten\r\n\r\n",
            "POST /_palisade/v1/leases HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
        ]
    )
    func parserRejection(request: String) async throws {
        try await withTestServer { server in
            let answer = await rawExchange(port: server.port, Array(request.utf8), closeWriteSide: false)
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
            #expect(answer.contains(#""code":"MalformedRequest""#))
            #expect(answer.lowercased().contains("connection: close"))
        }
    }
}
