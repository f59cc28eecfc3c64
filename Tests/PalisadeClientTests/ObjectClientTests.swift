import NIOCore
import PalisadeClient
import PalisadeProtocol
import PalisadeTestSupport
import Testing

@Suite("ObjectClient: fenced writes from Swift")
struct ObjectClientTests {
    @Test("withLock then put(fencedBy:) writes; a former holder's put is refused with StaleFencingToken")
    func fencedWrites() async throws {
        try await withTestServer { server in
            let store = ObjectClient(endpoint: server.endpoint, credentials: server.credentials)
            try await store.createBucket("orders")
            let written = try await store.withLock("orders/2026/42") { lock in
                try await store.put(bucket: "orders", key: "2026/42", body: ByteBuffer(string: "first"), fencedBy: lock)
            }
            #expect(written.commitSequence != nil)
            try await store.locks.withLease(ttl: .seconds(30)) { session in
                let paused = try await session.acquire("orders/2026/42", wait: .zero)
                _ = try await store.locks.forceRelease("orders/2026/42")
                try await store.withLock("orders/2026/42") { lock in
                    _ = try await store.put(
                        bucket: "orders",
                        key: "2026/42",
                        body: ByteBuffer(string: "second"),
                        fencedBy: lock
                    )
                }
                let error = await #expect(throws: ObjectClientError.self) {
                    try await store.put(
                        bucket: "orders",
                        key: "2026/42",
                        body: ByteBuffer(string: "stale"),
                        fencedBy: paused
                    )
                }
                #expect(error?.code == "StaleFencingToken" && error?.status == 409)
                await #expect(throws: ObjectClientError.self) {
                    try await store.delete(bucket: "orders", key: "2026/42", fencedBy: paused)
                }
            }
            #expect(String(buffer: try await store.get(bucket: "orders", key: "2026/42")) == "second")
        }
    }
}
