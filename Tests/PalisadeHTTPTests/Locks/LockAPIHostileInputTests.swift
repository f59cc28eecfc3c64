import Foundation
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
}
