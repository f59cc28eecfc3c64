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
                let staleDelete = await #expect(throws: ObjectClientError.self) {
                    try await store.delete(bucket: "orders", key: "2026/42", fencedBy: paused)
                }
                #expect(staleDelete?.code == "StaleFencingToken" && staleDelete?.status == 409)
            }
            #expect(String(buffer: try await store.get(bucket: "orders", key: "2026/42")) == "second")
        }
    }

    @Test("every put is a named write: the same id again is answered with the first outcome; settling tells the rest")
    func namedWrites() async throws {
        try await withTestServer { server in
            let store = ObjectClient(endpoint: server.endpoint, credentials: server.credentials)
            try await store.createBucket("named")
            let first = try await store.put(bucket: "named", key: "k", body: ByteBuffer(string: "first"))
            let id = try #require(first.writeID)
            #expect(!first.replayed)
            _ = try await store.put(bucket: "named", key: "k", body: ByteBuffer(string: "second"))
            let retry = try await store.put(
                bucket: "named",
                key: "k",
                body: ByteBuffer(string: "first"),
                headers: [(PalisadeHeaders.writeID, id)]
            )
            #expect(retry.replayed && retry.commitSequence == first.commitSequence && retry.etag == first.etag)
            #expect(String(buffer: try await store.get(bucket: "named", key: "k")) == "second")
            let outcome = try await store.writeOutcome(id)
            #expect(outcome.status == .committed && outcome.commitSequence == first.commitSequence)
            #expect(try await store.writeOutcome("never-sent").status == .unknown)
            #expect(try await store.writeOutcome("never-sent", settle: true).status == .notCommitted)
        }
    }

    @Test("list pages through keys; a fenced multipart upload commits, and a former holder's is refused and aborted")
    func listAndMultipart() async throws {
        try await withTestServer { server in
            let store = ObjectClient(endpoint: server.endpoint, credentials: server.credentials)
            try await store.createBucket("media")
            for key in ["a/1", "a/2", "b"] {
                _ = try await store.put(bucket: "media", key: key, body: ByteBuffer(string: key))
            }
            let first = try await store.list(bucket: "media", maxKeys: 2)
            #expect(first.keys == ["a/1", "a/2"] && first.continuationToken != nil)
            let second = try await store.list(bucket: "media", continuationToken: first.continuationToken, maxKeys: 2)
            #expect(second.keys == ["b"] && second.continuationToken == nil)
            #expect(try await store.list(bucket: "media", delimiter: "/").commonPrefixes == ["a/"])

            let big = ByteBuffer(repeating: 0x61, count: 5 * 1024 * 1024)
            let video = try await store.withLock("media/video.bin") { lock in
                try await store.putMultipart(
                    bucket: "media",
                    key: "video.bin",
                    parts: [big, ByteBuffer(string: "end")],
                    fencedBy: lock
                )
            }
            #expect(video.etag.hasSuffix("-2"))
            #expect(try await store.get(bucket: "media", key: "video.bin").readableBytes == big.readableBytes + 3)
            try await store.locks.withLease(ttl: .seconds(30)) { session in
                let paused = try await session.acquire("media/video.bin", wait: .zero)
                _ = try await store.locks.forceRelease("media/video.bin")
                try await store.withLock("media/video.bin") { lock in
                    _ = try await store.put(
                        bucket: "media",
                        key: "video.bin",
                        body: ByteBuffer(string: "newer"),
                        fencedBy: lock
                    )
                }
                let error = await #expect(throws: ObjectClientError.self) {
                    try await store.putMultipart(
                        bucket: "media",
                        key: "video.bin",
                        parts: [ByteBuffer(string: "stale")],
                        fencedBy: paused
                    )
                }
                #expect(error?.code == "StaleFencingToken")
            }
            #expect(String(buffer: try await store.get(bucket: "media", key: "video.bin")) == "newer")
        }
    }
}
