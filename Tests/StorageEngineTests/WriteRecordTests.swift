import PalisadeProtocol
import PalisadeTestSupport
import StorageCore
import StorageEngine
import Testing

@Suite("Named writes: a write's record is made by its own commit, and a settled name never commits")
struct WriteRecordTests {
    func namedPut(_ store: ObjectStore, _ key: String, _ text: String, name: String) async throws -> ObjectHead {
        var request = PutRequest(bucket: "bucket", key: key)
        request.writeName = name
        return try await store.put(request, body: body(text))
    }

    @Test("a named put and delete are recorded with their commit's sequence", arguments: MetadataKind.allCases)
    func recordsOutcome(kind: MetadataKind) async throws {
        let (store, _) = try await makeStore(kind)
        let head = try await namedPut(store, "k", "one", name: "w1")
        let record = try #require(try await store.writeRecord(named: "w1"))
        #expect(
            record.committed
                == CommittedWrite(
                    kind: .put,
                    bucket: "bucket",
                    key: "k",
                    versionID: head.versionID,
                    etag: head.etag,
                    commitSequence: head.commitSequence
                )
        )
        let sequence = try await store.delete(bucket: "bucket", key: "k", writeName: "w2")
        #expect(try await store.writeRecord(named: "w2")?.committed?.commitSequence == sequence)
        try await store.delete(bucket: "bucket", key: "absent", writeName: "w3")
        let nothing = try #require(try await store.writeRecord(named: "w3")?.committed)
        #expect(nothing.kind == .delete && nothing.commitSequence == nil)
        #expect(try await store.writeRecord(named: "never") == nil)
    }

    @Test(
        "a name is committed at most once, whichever gateway each attempt goes through",
        arguments: MetadataKind.allCases
    )
    func atMostOnce(kind: MetadataKind) async throws {
        let (store, other, _) = try await makeGateways(kind)
        let outcomes = try await withThrowingTaskGroup(of: StorageError.Code?.self) { group in
            for attempt in 0..<6 {
                group.addTask {
                    await storageCode {
                        _ = try await namedPut(
                            attempt % 2 == 0 ? store : other,
                            "k",
                            "attempt \(attempt)",
                            name: "once"
                        )
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == nil }.count == 1, "\(outcomes)")
        #expect(outcomes.allSatisfy { $0 == nil || $0 == .writeIDAlreadyCommitted }, "\(outcomes)")
        let record = try #require(try await store.writeRecord(named: "once")?.committed)
        #expect(try await store.currentHead(bucket: "bucket", key: "k")?.etag == record.etag)
    }

    @Test(
        "settling an unknown name declares it abandoned: a write in flight under it is refused at its commit",
        arguments: MetadataKind.allCases
    )
    func settledNameNeverCommits(kind: MetadataKind) async throws {
        let (store, other, _) = try await makeGateways(kind)
        let slow = ControlledBody()
        var request = PutRequest(bucket: "bucket", key: "k")
        request.writeName = "late"
        let inFlight = Task { [request] in try await store.put(request, body: slow) }
        await slow.waitUntilStarted()
        let settled = try await other.settle(writeNamed: "late")
        #expect(settled.committed == nil)
        slow.send("arrives after the answer")
        slow.feed.finish()
        await #expect { try await inFlight.value } throws: { ($0 as? StorageError)?.code == .writeIDAbandoned }
        #expect(try await store.currentHead(bucket: "bucket", key: "k") == nil)
        #expect(try await other.settle(writeNamed: "late") == settled, "settling again gives the same answer")
        // A committed name settles to its record.
        let head = try await namedPut(store, "k", "kept", name: "early")
        #expect(try await other.settle(writeNamed: "early").committed?.commitSequence == head.commitSequence)
    }

    @Test("records older than the retention are removed; newer ones stay", arguments: MetadataKind.allCases)
    func expiry(kind: MetadataKind) async throws {
        let (store, _) = try await makeStore(kind)
        _ = try await namedPut(store, "k", "x", name: "old")
        #expect(try await store.removeExpiredWriteRecords() == 0)
        #expect(try await store.writeRecord(named: "old") != nil)
        let later = ObjectStore.now() + ObjectStore.writeRecordRetention + 1_000
        #expect(try await store.removeExpiredWriteRecords(now: later) == 1)
        #expect(try await store.writeRecord(named: "old") == nil)
    }
}
