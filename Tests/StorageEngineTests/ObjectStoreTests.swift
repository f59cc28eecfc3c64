import Foundation
import NIOCore
import PalisadeProtocol
import PalisadeTestSupport
import StorageCore
import StorageEngine
import Synchronization
import Testing

/// A request body the test feeds by hand: an upload stays in flight (before its commit point)
/// until the test finishes its body.
struct ControlledBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let stream: AsyncStream<ByteBuffer>
    let feed: AsyncStream<ByteBuffer>.Continuation
    /// Yields once, when the upload first asks for body bytes (it has read the current version by then).
    let started: AsyncStream<Void>
    private let signalStarted: AsyncStream<Void>.Continuation

    init() {
        (stream, feed) = AsyncStream.makeStream(of: ByteBuffer.self)
        (started, signalStarted) = AsyncStream.makeStream(of: Void.self)
    }

    func makeAsyncIterator() -> AsyncStream<ByteBuffer>.Iterator {
        signalStarted.yield()
        return stream.makeAsyncIterator()
    }

    func send(_ text: String) { feed.yield(ByteBuffer(string: text)) }

    func waitUntilStarted() async { for await _ in started { return } }
}

/// A body that fails after its first chunk, like a client that disconnects mid-upload.
struct FailingBody: AsyncSequence, Sendable {
    struct Disconnected: Error {}
    typealias Element = ByteBuffer

    func makeAsyncIterator() -> Iterator { Iterator() }

    struct Iterator: AsyncIteratorProtocol {
        var sent = false
        mutating func next() async throws -> ByteBuffer? {
            if sent { throw Disconnected() }
            sent = true
            return ByteBuffer(string: "partial data")
        }
    }
}

func body(_ text: String) -> AsyncStream<ByteBuffer> {
    AsyncStream { continuation in
        continuation.yield(ByteBuffer(string: text))
        continuation.finish()
    }
}

/// A new store of `kind` with one bucket, `bucket`, and the folder of its blobs; with `blobsOnly`,
/// every object's bytes are in a blob (none inline), for the tests that follow blobs' lives.
func makeStore(_ kind: MetadataKind, blobsOnly: Bool = false) async throws -> (ObjectStore, String) {
    let directory = try makeTemporaryDirectory()
    let store = try await makeObjectStore(kind, directory: directory, inlineLimit: blobsOnly ? 0 : 64 * 1024)
    try await store.createBucket("bucket")
    return (store, directory)
}

/// A new store of `kind` with one bucket, and a second gateway onto the same data, for the racing
/// side of a race: for etcd another store on the same keys and blob folder (as a second
/// `palisade serve --etcd` is); for SQLite, which one process owns, the same store.
func makeGateways(_ kind: MetadataKind, blobsOnly: Bool = false) async throws -> (ObjectStore, ObjectStore, String) {
    let (store, directory) = try await makeStore(kind, blobsOnly: blobsOnly)
    let other = kind == .sqlite ? store : try await makeObjectStore(kind, directory: directory)
    return (store, other, directory)
}

extension ObjectStore {
    @discardableResult
    func put(_ key: String, _ text: String, preconditions: WritePreconditions = .init()) async throws -> ObjectHead {
        try await put(PutRequest(bucket: "bucket", key: key, preconditions: preconditions), body: body(text))
    }

    /// The whole current version of `key` as text.
    func read(_ key: String) async throws -> String {
        let reader = try await open(bucket: "bucket", key: key)
        let text = try await text(of: reader.chunks(0..<reader.head.size))
        await reader.close()
        return text
    }
}

func text(of chunks: ObjectChunks) async throws -> String {
    var all = ByteBuffer()
    for try await var chunk in chunks { all.writeBuffer(&chunk) }
    return String(buffer: all)
}

/// The number of blob files on disk.
func blobCount(_ directory: String) throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: directory + "/blobs").reduce(0) {
        $0 + (try FileManager.default.contentsOfDirectory(atPath: directory + "/blobs/" + $1).count)
    }
}

func storageCode(_ body: () async throws -> Void) async -> StorageError.Code? {
    do { try await body() } catch { return (error as? StorageError)?.code }
    return nil
}

@Suite("ObjectStore: commit point, no partial data, snapshot reads")
struct ObjectStoreTests {
    @Test(
        "a put commits a whole version with its MD5 ETag and a commit sequence; a later put replaces it",
        arguments: MetadataKind.allCases
    )
    func putAndReplace(kind: MetadataKind) async throws {
        let (store, directory) = try await makeStore(kind, blobsOnly: true)
        let first = try await store.put("k", "version one")
        #expect(first.etag == "5f432711af7ffa8942d5588e21259022")  // md5("version one")
        let second = try await store.put("k", "version two")
        #expect(second.commitSequence > first.commitSequence)
        #expect(try await store.read("k") == "version two")
        try await sweepRetiredBlobs(kind, directory: directory)
        #expect(try blobCount(directory) == 1, "the replaced version's blob is unlinked after the commit")
    }

    @Test(
        "a client that disconnects mid-upload leaves no object, no metadata and no blob",
        arguments: MetadataKind.allCases
    )
    func disconnectLeavesNothing(kind: MetadataKind) async throws {
        let (store, directory) = try await makeStore(kind)
        await #expect(throws: FailingBody.Disconnected.self) {
            try await store.put(PutRequest(bucket: "bucket", key: "k"), body: FailingBody())
        }
        #expect(await storageCode { _ = try await store.head(bucket: "bucket", key: "k") } == .noSuchKey)
        #expect(try blobCount(directory) == 0)
    }

    @Test(
        "a write that cannot commit is refused before a byte of its body is read: no token on a fenced path, no bucket",
        arguments: MetadataKind.allCases
    )
    func refusedBeforeTheBody(kind: MetadataKind) async throws {
        let (store, _) = try await makeStore(kind)
        let locked = FencedPath(bucket: "bucket", prefix: "locked/")
        try await store.setFenced(locked, true)
        // FailingBody throws Disconnected once read: a StorageError means the body was never read.
        func refusal(_ request: PutRequest) async -> StorageError.Code? {
            await storageCode { _ = try await store.put(request, body: FailingBody()) }
        }
        #expect(await refusal(PutRequest(bucket: "bucket", key: "locked/k")) == .fencingTokenRequired)
        #expect(await refusal(PutRequest(bucket: "absent", key: "k")) == .noSuchBucket)
        let conditional = WritePreconditions(ifNoneMatch: "*")
        #expect(await refusal(PutRequest(bucket: "absent", key: "k", preconditions: conditional)) == .noSuchBucket)
        await #expect(throws: FailingBody.Disconnected.self) {
            try await store.put(PutRequest(bucket: "bucket", key: "open/k"), body: FailingBody())
        }
        try await store.setFenced(locked, false)
        try await store.put("locked/k", "unfenced since")
        #expect(try await store.read("locked/k") == "unfenced since")
    }

    @Test(
        "a body that fails verification commits nothing, and says which check failed",
        arguments: MetadataKind.allCases,
        [
            (PutRequest(bucket: "bucket", key: "k", expectedMD5Base64: "AAAAAAAAAAAAAAAAAAAAAA=="), .badDigest),
            (
                PutRequest(bucket: "bucket", key: "k", expectedSHA256Hex: String(repeating: "0", count: 64)),
                .contentSHA256Mismatch
            ),
            (PutRequest(bucket: "bucket", key: "k", expectedChecksums: [.crc32: "AAAAAA=="]), .badDigest),
            (PutRequest(bucket: "bucket", key: "k", expectedSize: 999), .incompleteBody),
        ] as [(PutRequest, StorageError.Code)]
    )
    func badBodiesCommitNothing(
        kind: MetadataKind,
        bad: (request: PutRequest, expected: StorageError.Code)
    ) async throws {
        let (request, expected) = bad
        let (store, directory) = try await makeStore(kind)
        let code = await storageCode { _ = try await store.put(request, body: body("some bytes")) }
        #expect(code == expected)
        #expect(await storageCode { _ = try await store.head(bucket: "bucket", key: "k") } == .noSuchKey)
        #expect(try blobCount(directory) == 0)
    }

    @Test(
        "listing with a delimiter, page by page, returns what a reference rolls up, however keys fall across batches",
        arguments: MetadataKind.allCases
    )
    func delimiterListingMatchesReference(kind: MetadataKind) async throws {
        let (store, _) = try await makeStore(kind)
        var generator = SystemRandomNumberGenerator()
        var keys = Set<String>()
        // 40 of the 155 keys of one to three segments from "a" to "d" and U+10FFFF (the highest
        // character, which a listing's seek past a prefix must still not skip), and a folder of
        // 30 keys, more than a listing's smallest batch.
        while keys.count < 40 {
            let depth = Int.random(in: 1...3, using: &generator)
            keys.insert(
                (0..<depth).map { _ in ["a", "b", "c", "d", "\u{10FFFF}"].randomElement(using: &generator)! }
                    .joined(separator: "/")
            )
        }
        keys.formUnion((0..<30).map { "b/c/many\($0)" })
        for key in keys { try await store.put(key, key) }
        let sorted = keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for prefix in ["", "a/", "b/c"] {
            // The reference: keys under the prefix, rolled up at the first "/" after it.
            var expected: [String] = []
            for key in sorted where key.hasPrefix(prefix) {
                let rest = key.dropFirst(prefix.count)
                let entry = rest.firstIndex(of: "/").map { prefix + rest[...$0] } ?? key
                if expected.last != entry { expected.append(entry) }
            }
            for maxKeys in [1, 2, 3, 7, 20, 1000] {
                var listed: [String] = []
                var after = ""
                for _ in 0...keys.count {
                    let page = try await store.list(
                        bucket: "bucket",
                        prefix: prefix,
                        delimiter: "/",
                        after: after,
                        maxKeys: maxKeys
                    )
                    #expect(page.contents.count + page.commonPrefixes.count <= maxKeys)
                    listed += (page.contents.map(\.key) + page.commonPrefixes).sorted {
                        $0.utf8.lexicographicallyPrecedes($1.utf8)
                    }
                    guard page.isTruncated, let last = page.lastKey else { break }
                    after = last
                }
                #expect(listed == expected, "prefix '\(prefix)', \(maxKeys) a page")
            }
        }
    }

    @Test("group commit: concurrent commits share transactions, and a refused one changes nothing of the others")
    func groupCommit() async throws {
        let directory = try makeTemporaryDirectory()
        let metadata = try SQLiteMetadataStore(
            path: directory + "/metadata.sqlite",
            durable: true,
            authority: nil,
            reserve: nil
        )
        let store = ObjectStore(
            metadata: metadata,
            blobs: try FileBlobStore(root: directory + "/blobs"),
            durability: .durable
        )
        try await store.createBucket("bucket")
        let before = metadata.commitCounts
        // 32 writers of their own keys, and 8 that each create "contested" only if it is absent.
        let outcomes = await withTaskGroup(of: (String, StorageError.Code?).self) { group in
            for index in 0..<40 {
                group.addTask {
                    let key = index < 32 ? "own\(index)" : "contested"
                    let preconditions = index < 32 ? WritePreconditions() : WritePreconditions(ifNoneMatch: "*")
                    let code = await storageCode {
                        _ = try await store.put(key, "\(index)", preconditions: preconditions)
                    }
                    return (key, code)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(
            outcomes.filter { $0.0 != "contested" }.allSatisfy { $0.1 == nil },
            "every writer of its own key succeeded"
        )
        let contested = outcomes.filter { $0.0 == "contested" }
        #expect(contested.filter { $0.1 == nil }.count == 1, "exactly one creation of the contested key")
        #expect(contested.allSatisfy { [nil, .preconditionFailed, .conditionalRequestConflict].contains($0.1) })
        for index in 0..<32 { #expect(try await store.read("own\(index)") == "\(index)") }
        let after = metadata.commitCounts
        let commits = after.commits - before.commits
        let transactions = after.transactions - before.transactions
        #expect(commits == 40)
        #expect(transactions < commits, "\(commits) commits in \(transactions) transactions: some were grouped")
    }

    @Test(
        "delimiters and prefixes match as UTF-8 bytes: several-character delimiters, non-ASCII and decomposed characters",
        arguments: MetadataKind.allCases
    )
    func delimiterBytes(kind: MetadataKind) async throws {
        let (store, _) = try await makeStore(kind)
        let keys = ["x--y--z", "x--w", "x--y--q", "é/a/1", "é/b", "e\u{301}/c/2", "e\u{301}\u{301}/d", "日本--語--x"]
        for key in keys { try await store.put(key, key) }
        let cases: [(prefix: String, delimiter: String, entries: [String])] = [
            ("x--", "--", ["x--w", "x--y--"]),
            ("", "--", ["e\u{301}/c/2", "e\u{301}\u{301}/d", "x--", "é/a/1", "é/b", "日本--"]),
            ("é/", "/", ["é/a/", "é/b"]),
            ("e", "/", ["e\u{301}/", "e\u{301}\u{301}/"]),
            ("e\u{301}", "\u{301}", ["e\u{301}/c/2", "e\u{301}\u{301}"]),
            ("日本", "語", ["日本--語"]),
        ]
        for (prefix, delimiter, expected) in cases {
            let page = try await store.list(
                bucket: "bucket",
                prefix: prefix,
                delimiter: delimiter,
                after: "",
                maxKeys: 100
            )
            let listed = (page.contents.map(\.key) + page.commonPrefixes).sorted {
                $0.utf8.lexicographicallyPrecedes($1.utf8)
            }
            #expect(listed == expected, "prefix \(prefix), delimiter \(delimiter)")
        }
    }

    @Test(
        "races 4 and 5: a read that has begun returns the whole version it began with, across overwrite and delete",
        arguments: MetadataKind.allCases
    )
    func snapshotReads(kind: MetadataKind) async throws {
        let (store, other, directory) = try await makeGateways(kind, blobsOnly: true)
        let original = String(repeating: "0123456789", count: 100_000)
        try await store.put("k", original)
        let first = try await store.open(bucket: "bucket", key: "k")
        try await other.put("k", "overwritten")
        #expect(try blobCount(directory) == 2, "the replaced version stays while it is being read")
        #expect(try await text(of: first.chunks(0..<first.head.size)) == original)
        await first.close()
        try await sweepRetiredBlobs(kind, directory: directory)
        #expect(try blobCount(directory) == 1, "and goes when its last reader closes")

        let second = try await store.open(bucket: "bucket", key: "k")
        try await other.delete(bucket: "bucket", key: "k")
        #expect(try await text(of: second.chunks(0..<second.head.size)) == "overwritten")
        await second.close()
        #expect(await storageCode { _ = try await store.open(bucket: "bucket", key: "k") } == .noSuchKey)
        try await sweepRetiredBlobs(kind, directory: directory)
        #expect(try blobCount(directory) == 0)
    }

    @Test(
        "race 1: of two uploads in flight, the one that commits last wins, whatever the start order",
        arguments: MetadataKind.allCases
    )
    func lastCommitWins(kind: MetadataKind) async throws {
        let (store, other, _) = try await makeGateways(kind)
        let early = ControlledBody()
        let late = ControlledBody()
        let earlyUpload = Task { try await store.put(PutRequest(bucket: "bucket", key: "k"), body: early) }
        await early.waitUntilStarted()
        let lateUpload = Task { try await other.put(PutRequest(bucket: "bucket", key: "k"), body: late) }
        await late.waitUntilStarted()
        late.send("started second, committed first")
        late.feed.finish()
        let lateHead = try await lateUpload.value
        early.send("started first, committed last")
        early.feed.finish()
        let earlyHead = try await earlyUpload.value
        #expect(earlyHead.commitSequence > lateHead.commitSequence)
        #expect(try await other.read("k") == "started first, committed last")
    }

    @Test(
        "race 2: a delete that commits while an upload is in flight; the upload commits after it and is readable",
        arguments: MetadataKind.allCases
    )
    func deleteDuringUpload(kind: MetadataKind) async throws {
        let (store, other, _) = try await makeGateways(kind)
        try await store.put("k", "V0")
        let upload = ControlledBody()
        let task = Task { try await store.put(PutRequest(bucket: "bucket", key: "k"), body: upload) }
        await upload.waitUntilStarted()
        upload.send("V1")
        let deleted = try await other.delete(bucket: "bucket", key: "k")
        upload.feed.finish()
        let committed = try await task.value
        #expect(committed.commitSequence > (deleted ?? 0))
        #expect(try await other.read("k") == "V1")
    }

    @Test(
        "race 3: once a put has succeeded, a delete is final for every later reader",
        arguments: MetadataKind.allCases
    )
    func deleteAfterPut(kind: MetadataKind) async throws {
        let (store, other, _) = try await makeGateways(kind)
        try await store.put("k", "V1")
        try await other.delete(bucket: "bucket", key: "k")
        for reader in [store, other, store] {
            #expect(await storageCode { _ = try await reader.head(bucket: "bucket", key: "k") } == .noSuchKey)
        }
    }

    @Test(
        "a conditional put whose object changed while it uploaded gets ConditionalRequestConflict and commits nothing",
        arguments: MetadataKind.allCases
    )
    func conditionalConflict(kind: MetadataKind) async throws {
        let (store, other, directory) = try await makeGateways(kind, blobsOnly: true)
        let original = try await store.put("k", "V1")
        let upload = ControlledBody()
        let task = Task {
            try await store.put(
                PutRequest(bucket: "bucket", key: "k", preconditions: .init(ifMatch: original.etag)),
                body: upload
            )
        }
        await upload.waitUntilStarted()
        try await other.put("k", "V2 by a racing writer")
        upload.send("V3")
        upload.feed.finish()
        let code = await storageCode { _ = try await task.value }
        #expect(code == .conditionalRequestConflict)
        #expect(try await store.read("k") == "V2 by a racing writer")
        try await sweepRetiredBlobs(kind, directory: directory)
        #expect(try blobCount(directory) == 1)
    }

    @Test(
        "blob files that no commit references are removed by the sweep at start (a crash before the commit)",
        arguments: MetadataKind.allCases
    )
    func orphanSweep(kind: MetadataKind) async throws {
        let (store, directory) = try await makeStore(kind)
        try await store.put("kept", "data")
        let orphan = directory + "/blobs/ab/ab00000000000000000000000000000000"
        #expect(FileManager.default.createFile(atPath: orphan, contents: Data("uncommitted".utf8)))
        let reopened = try await makeObjectStore(kind, directory: directory)
        #expect(FileManager.default.fileExists(atPath: orphan), "opening a store removes nothing")
        try await reopened.removeUnreferencedBlobs()
        #expect(!FileManager.default.fileExists(atPath: orphan))
        #expect(try await reopened.read("kept") == "data")
    }

    @Test(
        "token order holds over the whole UInt64 range: after a token above 2^63, a small one is stale",
        arguments: MetadataKind.allCases
    )
    func tokenOrderAboveSignedRange(kind: MetadataKind) async throws {
        let (store, _) = try await makeStore(kind)
        let lock = LockName(rawValue: "bucket/k")!
        func write(_ token: UInt64) async throws {
            var request = PutRequest(bucket: "bucket", key: "k")
            request.fence = FenceClaim(lock: lock, token: FencingToken(token))
            _ = try await store.put(request, body: body("by \(token)"))
        }
        try await write(5)
        try await write(1 << 63 + 1)
        let error = await #expect(throws: StorageError.self) { try await write(6) }
        #expect(error?.code == .staleFencingToken)
        #expect(try await store.highestToken(of: lock) == FencingToken(1 << 63 + 1))
        #expect(try await store.read("k") == "by \(UInt64(1) << 63 + 1)")
    }

    @Test("listings: key order, prefixes, delimiter roll-up and pagination", arguments: MetadataKind.allCases)
    func listing(kind: MetadataKind) async throws {
        let (store, _) = try await makeStore(kind)
        for key in ["a/1", "a/2", "b", "c/x/1", "c/y"] { try await store.put(key, "x") }
        let all = try await store.list(bucket: "bucket", prefix: "", delimiter: "/", after: "", maxKeys: 1000)
        #expect(all.contents.map(\.key) == ["b"])
        #expect(all.commonPrefixes == ["a/", "c/"])
        let nested = try await store.list(bucket: "bucket", prefix: "c/", delimiter: "/", after: "", maxKeys: 1000)
        #expect(nested.commonPrefixes == ["c/x/"] && nested.contents.map(\.key) == ["c/y"])
        var keys: [String] = []
        var after = ""
        while true {
            let page = try await store.list(bucket: "bucket", prefix: "", delimiter: nil, after: after, maxKeys: 2)
            keys += page.contents.map(\.key)
            guard page.isTruncated, let last = page.lastKey else { break }
            after = last
        }
        #expect(keys == ["a/1", "a/2", "b", "c/x/1", "c/y"])
    }

    @Test(
        "bucket rules",
        arguments: [
            "ab", "Upper", "-start", "end-", "a..b", "192.168.1.1", "xn--punycode", String(repeating: "a", count: 64),
        ]
    )
    func invalidBucketNames(name: String) {
        #expect(ObjectStore.bucketNameProblem(name) != nil)
    }

    @Test("valid bucket names", arguments: ["abc", "my-bucket.data", "a1b2c3", String(repeating: "a", count: 63)])
    func validBucketNames(name: String) {
        #expect(ObjectStore.bucketNameProblem(name) == nil)
    }
}
