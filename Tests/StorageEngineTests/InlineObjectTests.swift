import Foundation
import GRDB
import NIOCore
import PalisadeTestSupport
import StorageCore
import StorageEngine
import Testing

/// Small objects kept in the embedded store's database, written by the commit of their head.
@Suite("ObjectStore: small objects inline")
struct InlineObjectTests {
    /// The rows of inline bytes in the store's database.
    static func inlineRows(_ directory: String) throws -> Int {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: directory + "/metadata.sqlite", configuration: configuration).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM inline_data") ?? -1
        }
    }

    static func chunks(_ parts: [String]) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            for part in parts { continuation.yield(ByteBuffer(string: part)) }
            continuation.finish()
        }
    }

    @Test("a small object has no blob: it reads back whole, in ranges and empty, and after a restart")
    func smallObjects() async throws {
        let (store, directory) = try await makeStore(.sqlite)
        let head = try await store.put("k", "0123456789")
        #expect(head.inlineData == Array("0123456789".utf8))
        try await store.put("empty", "")
        #expect(try blobCount(directory) == 0 && Self.inlineRows(directory) == 2)
        #expect(try await store.read("k") == "0123456789")
        #expect(try await store.read("empty") == "")
        let reader = try await store.open(bucket: "bucket", key: "k")
        #expect(try await text(of: reader.chunks(2..<5)) == "234" && reader.partRange(1) == 0..<10)
        await reader.close()
        let reopened = try await makeObjectStore(.sqlite, directory: directory)
        #expect(try await reopened.read("k") == "0123456789")
        #expect(try await reopened.head(bucket: "bucket", key: "k").etag == head.etag)
    }

    @Test("each head read sees every commit acknowledged before it, and its own version's bytes, amid writes")
    func headsSeeAcknowledgedCommits() async throws {
        let (store, _) = try await makeStore(.sqlite)
        // One after the other: a connection that read before must not keep reading an old snapshot.
        for round in 0..<50 {
            let written = try await store.put("k", "v\(round)")
            let head = try await store.head(bucket: "bucket", key: "k")
            #expect(head.versionID == written.versionID && head.inlineData == Array("v\(round)".utf8))
        }
        // Readers on several threads while a writer overwrites: the length of round r's bytes
        // depends on r, so a head read with another version's bytes shows; no reader goes back.
        func body(_ round: Int) -> String { String(repeating: "x", count: round % 7) + "\(round)" }
        try await store.put("c", body(0))
        try await withThrowingTaskGroup { group in
            group.addTask { for round in 1...100 { try await store.put("c", body(round)) } }
            for _ in 0..<4 {
                group.addTask {
                    var lastRound = 0
                    var lastSequence: UInt64 = 0
                    for _ in 0..<200 {
                        let head = try await store.head(bucket: "bucket", key: "c")
                        let text = String(decoding: head.inlineData ?? [], as: UTF8.self)
                        let round = Int(text.drop { $0 == "x" }) ?? -1
                        #expect(text == body(round) && Int64(text.utf8.count) == head.size, "\(text)")
                        #expect(round >= lastRound && head.commitSequence >= lastSequence)
                        (lastRound, lastSequence) = (round, head.commitSequence)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("at the limit inline; past it, even when only a later chunk passes it, all of it in one blob")
    func limit() async throws {
        let directory = try makeTemporaryDirectory()
        let store = try await makeObjectStore(.sqlite, directory: directory, inlineLimit: 16)
        try await store.createBucket("bucket")
        try await store.put("at", String(repeating: "a", count: 16))
        #expect(try blobCount(directory) == 0)
        try await store.put("past", String(repeating: "b", count: 17))
        #expect(try blobCount(directory) == 1)
        let spilled = try await store.put(
            PutRequest(bucket: "bucket", key: "spilled"),
            body: Self.chunks(["0123456789", "abcdefghij"])
        )
        #expect(spilled.inlineData == nil && spilled.size == 20)
        #expect(try blobCount(directory) == 2 && Self.inlineRows(directory) == 1)
        #expect(try await store.read("spilled") == "0123456789abcdefghij")
        #expect(try await store.read("at") == String(repeating: "a", count: 16))
    }

    @Test("overwriting or deleting a small object takes its bytes in the same commit; a reader that began keeps them")
    func replaceAndDelete() async throws {
        let (store, directory) = try await makeStore(.sqlite)
        try await store.put("k", "first")
        let reader = try await store.open(bucket: "bucket", key: "k")
        try await store.put("k", "second")
        #expect(try Self.inlineRows(directory) == 1, "the replaced version's row went with the commit")
        #expect(try await text(of: reader.chunks(0..<reader.head.size)) == "first")
        await reader.close()
        try await store.put("k", String(repeating: "x", count: 100 * 1024))
        #expect(try Self.inlineRows(directory) == 0 && blobCount(directory) == 1, "replaced by a large version")
        try await store.put("k", "small again")
        #expect(try Self.inlineRows(directory) == 1 && blobCount(directory) == 0)
        try await store.delete(bucket: "bucket", key: "k")
        #expect(try Self.inlineRows(directory) == 0)
        #expect(await storageCode { _ = try await store.head(bucket: "bucket", key: "k") } == .noSuchKey)
    }

    @Test("a small body that fails verification, or a refused conditional write, stores nothing")
    func refusals() async throws {
        let (store, directory) = try await makeStore(.sqlite)
        var wrongSize = PutRequest(bucket: "bucket", key: "k")
        wrongSize.expectedSize = 99
        #expect(await storageCode { _ = try await store.put(wrongSize, body: body("short")) } == .incompleteBody)
        try await store.put("k", "v1")
        let mismatch = WritePreconditions(ifMatch: "\"00000000000000000000000000000000\"")
        #expect(await storageCode { try await store.put("k", "v2", preconditions: mismatch) } == .preconditionFailed)
        #expect(try Self.inlineRows(directory) == 1 && blobCount(directory) == 0)
        #expect(try await store.read("k") == "v1")
    }
}
