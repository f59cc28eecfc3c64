import EtcdCluster
import Foundation
import NIOCore
import PalisadeProtocol
import PalisadeTestSupport
import StorageCore
import StorageEngine
import Testing

/// Two gateways' object stores on one etcd key prefix and one blob folder (and that folder).
func twoGateways() async throws -> (ObjectStore, ObjectStore, directory: String) {
    let directory = try makeTemporaryDirectory()
    let first = try await makeObjectStore(.etcd, directory: directory)
    let second = try await makeObjectStore(.etcd, directory: directory)
    try await first.createBucket("bucket")
    return (first, second, directory)
}

/// The ids of the blob files in `directory`.
func blobFiles(_ directory: String) throws -> Set<String> {
    try FileBlobStore(root: directory + "/blobs").allIDs()
}

func sweeper(_ directory: String, grace: Duration, orphanAge: Duration) async throws -> BlobSweeper {
    let client = try await EtcdTestCluster.shared.client
    let layout = EtcdKeyLayout(prefix: "test\(directory)/")
    return BlobSweeper(
        client: client,
        layout: layout,
        metadata: EtcdMetadataStore(client: client, layout: layout, checksLiveHolders: false),
        blobs: try FileBlobStore(root: directory + "/blobs"),
        grace: grace,
        orphanAge: orphanAge
    )
}

func body(_ text: String) -> AsyncStream<ByteBuffer> {
    AsyncStream { continuation in
        continuation.yield(ByteBuffer(string: text))
        continuation.finish()
    }
}

func read(_ store: ObjectStore, _ key: String) async throws -> String {
    let reader = try await store.open(bucket: "bucket", key: key)
    var all = ByteBuffer()
    for try await var chunk in reader.chunks(0..<reader.head.size) { all.writeBuffer(&chunk) }
    await reader.close()
    return String(buffer: all)
}

@Suite("EtcdMetadataStore: one commit point for several gateways")
struct EtcdMetadataStoreTests {
    @Test("32 concurrent If-None-Match creates of one key through two gateways: exactly one commits")
    func oneCreateWins() async throws {
        let (first, second, _) = try await twoGateways()
        let outcomes = try await withThrowingTaskGroup(of: String?.self) { group in
            for writer in 0..<32 {
                group.addTask {
                    let store = writer.isMultiple(of: 2) ? first : second
                    let request = PutRequest(bucket: "bucket", key: "k", preconditions: .init(ifNoneMatch: "*"))
                    do {
                        _ = try await store.put(request, body: body("writer \(writer)"))
                        return "writer \(writer)"
                    } catch let error as StorageError {
                        #expect([.preconditionFailed, .conditionalRequestConflict].contains(error.code), "\(error)")
                        return nil
                    }
                }
            }
            return try await group.reduce(into: [String]()) { if let winner = $1 { $0.append(winner) } }
        }
        #expect(outcomes.count == 1)
        #expect(try await read(second, "k") == outcomes.first)
    }

    @Test("fenced writes in random token order through two gateways: none is accepted after a higher token committed")
    func tokenOrderAcrossGateways() async throws {
        let (first, second, _) = try await twoGateways()
        let lock = LockName(rawValue: "bucket/k")!
        let accepted = try await withThrowingTaskGroup(of: (token: UInt64, sequence: UInt64)?.self) { group in
            for token in (1...40).shuffled() {
                group.addTask {
                    var request = PutRequest(bucket: "bucket", key: "k")
                    request.fence = FenceClaim(lock: lock, token: FencingToken(UInt64(token)))
                    do {
                        let head = try await (token.isMultiple(of: 2) ? first : second)
                            .put(request, body: body("token \(token)"))
                        return (UInt64(token), head.commitSequence)
                    } catch let error as StorageError {
                        #expect(error.code == .staleFencingToken, "\(error)")
                        return nil
                    }
                }
            }
            return try await group.reduce(into: [(token: UInt64, sequence: UInt64)]()) {
                if let write = $1 { $0.append(write) }
            }
        }
        let inCommitOrder = accepted.sorted { $0.sequence < $1.sequence }
        #expect(Set(inCommitOrder.map(\.sequence)).count == inCommitOrder.count, "one commit sequence per write")
        #expect(
            inCommitOrder.map(\.token) == inCommitOrder.map(\.token).sorted(),
            "tokens never go back in commit order"
        )
        let highest = try #require(inCommitOrder.last)
        #expect(try await first.highestToken(of: lock) == FencingToken(highest.token))
        #expect(try await read(first, "k") == "token \(highest.token)")
    }

    @Test(
        "race 4 and 5 across gateways: a read opened on one gateway streams its version after another overwrites and deletes it"
    )
    func snapshotReadAcrossGateways() async throws {
        let (writer, reader, directory) = try await twoGateways()
        let original = String(repeating: "0123456789", count: 300_000)
        let first = try await writer.put(PutRequest(bucket: "bucket", key: "k"), body: body(original))
        // Opened, not read yet: its first read opens the blob after the writer has moved on.
        let opened = try await reader.open(bucket: "bucket", key: "k")
        _ = try await writer.put(PutRequest(bucket: "bucket", key: "k"), body: body("replaced"))
        try await writer.delete(bucket: "bucket", key: "k")
        var all = ByteBuffer()
        for try await var chunk in opened.chunks(0..<opened.head.size) { all.writeBuffer(&chunk) }
        await opened.close()
        #expect(String(buffer: all) == original)
        // The retired blobs stay through the grace period, and go after it.
        try await sweeper(directory, grace: .seconds(3600), orphanAge: .seconds(3600)).sweep()
        #expect(try blobFiles(directory).contains(first.versionID))
        let swept = try await sweeper(directory, grace: .zero, orphanAge: .seconds(3600)).sweep()
        #expect(swept.retired == 2)
        #expect(try blobFiles(directory).isEmpty)
    }

    @Test("blobs no commit references are swept by age: an old one goes, a young one (a write in flight) stays")
    func orphansByAge() async throws {
        let (store, _, directory) = try await twoGateways()
        let kept = try await store.put(PutRequest(bucket: "bucket", key: "k"), body: body("committed"))
        let blobs = try FileBlobStore(root: directory + "/blobs")
        let old = String(repeating: "a", count: 32)
        let young = String(repeating: "b", count: 32)
        for id in [old, young] {
            let writer = try await blobs.create(id)
            try await writer.append(ByteBuffer(string: "never committed"))
            try await writer.finish(durable: false)
        }
        let twoHoursAgo = Date().addingTimeInterval(-7200)
        try FileManager.default.setAttributes(
            [.modificationDate: twoHoursAgo],
            ofItemAtPath: directory + "/blobs/aa/" + old
        )
        try FileManager.default.setAttributes(
            [.modificationDate: twoHoursAgo],
            ofItemAtPath: directory + "/blobs/" + kept.versionID.prefix(2) + "/" + kept.versionID
        )
        let swept = try await sweeper(directory, grace: .seconds(3600), orphanAge: .seconds(3600)).sweep()
        #expect(swept.orphans == 1)
        #expect(try blobFiles(directory) == [kept.versionID, young])
    }
}
