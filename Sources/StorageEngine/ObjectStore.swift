import Foundation
public import NIOCore
import PalisadeIDs
public import PalisadeProtocol
import PalisadeSupport
public import StorageCore

/// The embedded object store: SQLite metadata plus immutable blob files.
///
/// A write streams its body into a fresh blob, verifies it, makes it durable, and then commits with
/// one metadata transaction (the commit point, where ``CommitRules`` run). Before the commit nothing
/// is visible; after it every later request sees the new version. A write that fails anywhere
/// leaves no blob and no metadata behind. A replaced or deleted version's blob is unlinked after
/// the commit; readers that already opened it finish reading it.
public struct ObjectStore: Sendable {
    /// Whether a write is fsynced before it is acknowledged.
    public enum Durability: String, Sendable, CaseIterable {
        /// Blob and commit are on stable storage before success is sent (the default).
        case durable
        /// No fsync: a power loss may lose acknowledged writes; a process crash does not.
        case relaxed
    }

    /// Called by every write of a key after the checks made as the request arrived, just before
    /// its commit transaction; tests use it to change the world between the two (a lease ending).
    public typealias CommitHook = @Sendable (_ bucket: String, _ key: String) async -> Void

    let metadata: any MetadataStore
    let blobs: FileBlobStore
    let readers = VersionReaders()
    public let durability: Durability
    /// The disk room kept for deletes and lock changes; nil keeps none.
    public let reserve: SpaceReserve?
    let beforeCommit: CommitHook?

    /// A store of `metadata` whose object bytes are in `blobs`.
    /// - Parameters:
    ///   - reserve: disk room for deletes when the disk is full: new object data is refused
    ///     (`InsufficientStorage`) while it cannot be held.
    ///   - beforeCommit: see ``CommitHook``; nil in production.
    public init(
        metadata: any MetadataStore,
        blobs: FileBlobStore,
        durability: Durability,
        reserve: SpaceReserve? = nil,
        beforeCommit: CommitHook? = nil
    ) {
        self.metadata = metadata
        self.blobs = blobs
        self.durability = durability
        self.reserve = reserve
        self.beforeCommit = beforeCommit
    }

    /// The embedded store in `directory`: SQLite metadata (`metadata.sqlite`) and blob files (`blobs/`).
    /// - Parameter authority: the lock service that says whether a fencing token is its lock's live
    ///   holder; nil where no lock service runs in the deployment (only token order is checked).
    public init(
        directory: String,
        durability: Durability = .durable,
        authority: (any FenceAuthority)? = nil,
        reserve: SpaceReserve? = nil,
        inlineLimit: Int = SQLiteMetadataStore.defaultInlineLimit,
        beforeCommit: CommitHook? = nil
    ) throws {
        let metadata = try SQLiteMetadataStore(
            path: directory + "/metadata.sqlite",
            durable: durability == .durable,
            authority: authority,
            reserve: reserve,
            inlineLimit: inlineLimit
        )
        let blobs = try FileBlobStore(root: directory + "/blobs")
        if durability == .durable {
            // The database files and blob folders may have just been created: make their entries durable.
            for folder in [directory, blobs.root] where FolderSync.sync(folder) != 0 {
                throw StorageError(.internalError, "cannot sync the data folder \(folder)")
            }
        }
        self.init(
            metadata: metadata,
            blobs: blobs,
            durability: durability,
            reserve: reserve,
            beforeCommit: beforeCommit
        )
    }

    /// Removes the blob files that no current version or uploaded part references: those of writes
    /// that crashed before their commit. Only while no write is in flight (at start, before serving).
    public func removeUnreferencedBlobs() async throws {
        let referenced = try await metadata.referencedBlobIDs()
        for orphan in try blobs.allIDs().subtracting(referenced) {
            await blobs.remove(orphan)
        }
    }

    // MARK: Fencing

    /// Refuses a write before any byte of it is read when its fencing claim cannot succeed: a lock
    /// that does not cover the key, a fenced path without a token, a stale token or one whose lease
    /// is gone. The same rules run again at the commit point, which is what decides.
    func precheck(_ claim: FenceClaim?, bucket: String, key: String) async throws {
        _ = try await admit(claim, bucket: bucket, key: key, preconditions: nil)
    }

    /// ``precheck(_:bucket:key:)``, and with `preconditions` also checks them against the key's
    /// current version (412 before any byte is read), both read in one snapshot; returns that
    /// version's commit sequence, which the commit point compares to tell a racing change (409)
    /// from a condition that never held.
    func admit(
        _ claim: FenceClaim?,
        bucket: String,
        key: String,
        preconditions: WritePreconditions?
    ) async throws -> UInt64? {
        if let claim, !FenceRules.covers(lock: claim.lock, bucket: bucket, key: key) {
            throw StorageError.fencingLockMismatch(lock: claim.lock, bucket: bucket, key: key)
        }
        if claim == nil, preconditions?.isEmpty ?? true {
            // The common write, neither fenced nor conditional, needs only whether its path is
            // fenced and (a PUT's check, as below) whether its bucket exists: one look-up. No
            // condition, so no sequence for the commit point to compare.
            let paths = try await metadata.fencedPaths(in: bucket)
            let fence = CommitPoint.unclaimedFenceCheck(bucket: bucket, key: key, fencedPaths: paths ?? [])
            if let rejection = CommitRules.fenceRejection(fence) { throw StorageError(rejection) }
            if paths == nil, preconditions != nil { throw StorageError.noSuchBucket(bucket) }
            return nil
        }
        let (fence, current) = try await metadata.read(TransactionScope(bucket: bucket, key: key, fence: claim)) {
            (
                try CommitPoint.fenceCheck(claim: claim, bucket: bucket, key: key, in: $0),
                preconditions == nil ? nil : try $0.head(bucket: bucket, key: key)
            )
        }
        if let rejection = CommitRules.fenceRejection(fence) { throw StorageError(rejection) }
        guard let preconditions else { return nil }
        if current == nil { try await requireBucket(bucket) }
        switch preconditions.evaluate(current) {
        case .hold: break
        case .fail: throw StorageError(CommitRejection.preconditionFailed)
        case .keyAbsent: throw StorageError(CommitRejection.noSuchKey)
        }
        return current?.commitSequence
    }

    /// The fenced paths, where every write must carry a fencing token.
    public func fencedPaths() async throws -> [FencedPath] { try await metadata.fencedPaths() }

    /// Fences or unfences a path; the setting is persisted.
    public func setFenced(_ path: FencedPath, _ fenced: Bool) async throws(StorageError) {
        _ = try await metadata.commit(TransactionScope(bucket: path.bucket), freesSpace: !fenced) {
            try $0.setFenced(path, fenced)
        }
    }

    /// The highest fencing token recorded for `lock` by an accepted write, if any.
    public func highestToken(of lock: LockName) async throws -> FencingToken? {
        try await metadata.read(TransactionScope()) { try $0.highestToken(of: lock) }
    }

    // MARK: Buckets

    /// Buckets in name order, with their creation time (ms since 1970).
    public func listBuckets() async throws -> [(name: String, created: Int64)] {
        try await metadata.bucketNames()
    }

    /// Creates a bucket.
    /// - Throws: `InvalidBucketName`, `BucketAlreadyOwnedByYou`.
    public func createBucket(_ name: String) async throws(StorageError) {
        if let problem = Self.bucketNameProblem(name) { throw StorageError(.invalidBucketName, problem) }
        let createdAt = Self.now()
        _ = try await metadata.commit(TransactionScope(bucket: name), freesSpace: false) {
            try CommitPoint.createBucket(name, createdAt: createdAt, in: $0)
        }
    }

    /// Throws `NoSuchBucket` unless the bucket exists.
    public func requireBucket(_ name: String) async throws {
        guard try await metadata.bucketExists(name) else { throw StorageError.noSuchBucket(name) }
    }

    /// Deletes a bucket that holds no object; uploads in progress in it are aborted first (as S3
    /// deletes such a bucket), a few per commit — one commit when there are few.
    /// - Throws: `NoSuchBucket`, `BucketNotEmpty` (an object, or uploads begun faster than they end).
    public func deleteBucket(_ name: String) async throws(StorageError) {
        for _ in 0..<10_000 {
            let step = try await metadata.commit(TransactionScope(bucket: name), freesSpace: true) {
                try CommitPoint.deleteBucket(name, endingUploadsUpTo: 16, in: $0)
            }.value
            for blob in step.blobs { await blobs.remove(blob) }
            if step.deleted { return }
        }
        throw StorageError(.bucketNotEmpty, "uploads keep being started in the bucket '\(name)'")
    }

    /// Why `name` is not a valid S3 bucket name, or nil.
    public static func bucketNameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        func isLowerOrDigit(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard (3...63).contains(bytes.count) else { return "a bucket name is 3 to 63 characters long" }
        guard bytes.allSatisfy({ isLowerOrDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            return "a bucket name has only lowercase letters, digits, dots and hyphens"
        }
        guard isLowerOrDigit(bytes.first!), isLowerOrDigit(bytes.last!) else {
            return "a bucket name begins and ends with a letter or a digit"
        }
        if name.contains("..") || name.contains(".-") || name.contains("-.") {
            return "a bucket name has no adjacent dots"
        }
        let labels = name.split(separator: ".")
        if labels.count == 4, labels.allSatisfy({ UInt8($0) != nil }) { return "a bucket name is not an IP address" }
        if name.hasPrefix("xn--") || name.hasPrefix("sthree-") || name.hasSuffix("-s3alias")
            || name.hasSuffix("--ol-s3")
        {
            return "a bucket name does not use a reserved prefix or suffix"
        }
        return nil
    }

    // MARK: Objects

    /// The current version of a key.
    /// - Throws: `NoSuchBucket`, `NoSuchKey`.
    public func head(bucket: String, key: String) async throws -> ObjectHead {
        guard let head = try await metadata.head(bucket: bucket, key: key) else {
            try await requireBucket(bucket)
            throw StorageError(.noSuchKey, "the key '\(key)' does not exist")
        }
        return head
    }

    /// The current version of a key, or nil (the bucket must exist).
    public func currentHead(bucket: String, key: String) async throws -> ObjectHead? {
        if let head = try await metadata.head(bucket: bucket, key: key) { return head }
        try await requireBucket(bucket)
        return nil
    }

    /// Opens the current version for reading: a snapshot that stays whole however the key changes
    /// while it is read. Call ``ObjectReader/close()`` when done; until then the version's blobs stay.
    public func open(bucket: String, key: String) async throws -> ObjectReader {
        while true {
            let mark = readers.retirementMark()
            let head = try await head(bucket: bucket, key: key)
            // A commit retires the version it replaces after committing: with no retirement since the
            // mark, the version found is still on disk; otherwise it must still be current after the
            // retain. Either way no commit can unlink it until the reader closes.
            if readers.retain(head.versionID, unlessRetiredSince: mark) {
                return ObjectReader(head: head, store: self)
            }
            if try await metadata.currentVersionID(bucket: bucket, key: key) == head.versionID {
                return ObjectReader(head: head, store: self)
            }
            await release(head.versionID)
        }
    }

    /// Unlinks the blobs of a version that a commit replaced or deleted, at once or, while readers
    /// have it open, when the last of them closes.
    func retire(_ head: ObjectHead) async {
        guard !metadata.recordsRetiredBlobs else { return }
        // An inline version's bytes went with its head, in the commit.
        let blobIDs = head.inlineData == nil ? head.segments.map(\.blobID) : []
        if readers.retireWhenUnread(head.versionID, blobs: blobIDs) {
            for blobID in blobIDs { await blobs.remove(blobID) }
            // Freed space goes first to the reserve, when it was given up on a full disk.
            reserve?.refill()
        }
    }

    func release(_ versionID: String) async {
        for blob in readers.release(versionID) { await blobs.remove(blob) }
    }

    /// Streams `body` into a new version of `request.key` and commits it.
    /// - Throws: ``StorageError`` (nothing is committed and no blob is left), or the body's error.
    public func put<Body: AsyncSequence>(_ request: PutRequest, body: Body) async throws -> ObjectHead
    where Body.Element == ByteBuffer {
        let arrivedAt = Self.now()
        try StorageError.requireValidKey(request.key)
        let observed = try await admit(
            request.fence,
            bucket: request.bucket,
            key: request.key,
            preconditions: request.preconditions
        )
        let (versionID, digests, inlineData) = try await writeData(
            request,
            body: body,
            inlineLimit: metadata.inlineLimit
        )
        var checksums: [String: String] = [:]
        for algorithm in Set(request.expectedChecksums.keys).union(request.checksumsToCompute) {
            checksums[algorithm.rawValue] = digests.checksum(algorithm)
        }
        let head = ObjectHead(
            bucket: request.bucket,
            key: request.key,
            versionID: versionID,
            size: digests.size,
            etag: digests.md5Hex(),
            lastModified: Self.now(),
            commitSequence: 0,
            contentHeaders: request.contentHeaders,
            userMetadata: request.userMetadata,
            checksums: checksums,
            inlineData: inlineData
        )
        let intent = WriteIntent(
            kind: .put,
            preconditions: request.preconditions,
            observedSequence: observed,
            fence: request.fence,
            names: request.writeName.map { [$0] } ?? [],
            recordedAt: arrivedAt
        )
        do {
            await beforeCommit?(request.bucket, request.key)
            try Self.requireTimely(intent)
            let scope = TransactionScope(
                bucket: request.bucket,
                key: request.key,
                fence: request.fence,
                writeNames: intent.names
            )
            let commit = try await metadata.commit(scope, freesSpace: false) {
                try CommitPoint.put(head, intent: intent, in: $0)
            }
            if let replaced = commit.value { await retire(replaced) }
            var committed = head
            committed.fence = intent.fence
            committed.commitSequence = commit.sequence ?? 0
            return committed
        } catch {
            if inlineData == nil { await blobs.remove(versionID) }
            throw error
        }
    }

    /// Streams `body` into a fresh blob while computing its digests, verifies them, and makes the
    /// blob durable. On any failure the blob is removed and the error rethrown.
    func writeBlob<Body: AsyncSequence>(_ request: PutRequest, body: Body) async throws -> (String, Digests)
    where Body.Element == ByteBuffer {
        let (blobID, digests, _) = try await writeData(request, body: body, inlineLimit: nil)
        return (blobID, digests)
    }

    /// ``writeBlob(_:body:)``, except that a body of at most `inlineLimit` bytes is returned instead
    /// (no blob is made; the bytes are held while they come, and go to a blob once they pass it).
    /// - Returns: the version id (the blob's), the digests, and the bytes when they stayed inline.
    func writeData<Body: AsyncSequence>(
        _ request: PutRequest,
        body: Body,
        inlineLimit: Int?
    ) async throws -> (String, Digests, [UInt8]?) where Body.Element == ByteBuffer {
        guard reserve?.admitsData() ?? true else {
            throw StorageError.outOfSpace(detail: "the disk has less free space than the space reserve")
        }
        let blobID = RandomUUID.hex()
        var writer = inlineLimit == nil ? try await blobs.create(blobID) : nil
        var held = ByteBuffer()
        do {
            var digests = Digests(
                algorithms: Set(request.expectedChecksums.keys).union(request.checksumsToCompute),
                payloadSHA256: request.expectedSHA256Hex != nil
            )
            for try await chunk in body {
                digests.update(chunk)
                if writer == nil, let inlineLimit, held.readableBytes + chunk.readableBytes <= inlineLimit {
                    var chunk = chunk
                    held.writeBuffer(&chunk)
                    continue
                }
                if writer == nil {
                    let created = try await blobs.create(blobID)
                    writer = created
                    if held.readableBytes > 0 { try await created.append(held) }
                    held.clear()
                }
                try await writer?.append(chunk)
            }
            try Self.verify(digests, against: request)
            guard let writer else { return (blobID, digests, Array(held.readableBytesView)) }
            try await writer.finish(durable: durability == .durable)
            return (blobID, digests, nil)
        } catch {
            await writer?.abort()
            throw error
        }
    }

    /// Deletes the current version of a key; deleting an absent key succeeds and commits nothing.
    /// - Returns: the delete's commit sequence, or nil when there was nothing to delete.
    @discardableResult
    /// - Parameter writeName: the name the delete is recorded under (``WriteRecord``).
    public func delete(
        bucket: String,
        key: String,
        preconditions: WritePreconditions = .init(),
        fence: FenceClaim? = nil,
        writeName: String? = nil
    ) async throws -> UInt64? {
        let arrivedAt = Self.now()
        try StorageError.requireValidKey(key)
        let observed = try await admit(fence, bucket: bucket, key: key, preconditions: preconditions)
        let intent = WriteIntent(
            kind: .delete,
            preconditions: preconditions,
            observedSequence: observed,
            fence: fence,
            names: writeName.map { [$0] } ?? [],
            recordedAt: arrivedAt
        )
        await beforeCommit?(bucket, key)
        try Self.requireTimely(intent)
        let commit = try await metadata.commit(
            TransactionScope(bucket: bucket, key: key, fence: fence, writeNames: intent.names),
            freesSpace: true
        ) {
            try CommitPoint.delete(bucket: bucket, key: key, intent: intent, in: $0)
        }
        if let removed = commit.value { await retire(removed) }
        return commit.sequence
    }

    /// One page of a listing, in UTF-8 binary key order.
    /// - Parameters:
    ///   - after: list keys strictly after this one (marker, start-after, continuation).
    ///   - delimiter: when given, keys with it after the prefix roll up into common prefixes.
    public func list(
        bucket: String,
        prefix: String,
        delimiter: String?,
        after: String,
        maxKeys: Int
    ) async throws
        -> ListPage
    {
        try await requireBucket(bucket)
        var page = ListPage()
        let delimiter = delimiter.flatMap { $0.isEmpty ? nil : $0 }
        var start = ListingStart.after(after)
        // A marker that rolls up (a common prefix handed out as the last page's NextMarker or
        // continuation, or a key below one) resumes past every key under that prefix: the common
        // prefix was listed already, and is not listed again.
        if let delimiter, after.utf8.starts(with: prefix.utf8),
            let common = ListingEntry.commonPrefix(of: after, under: prefix, delimiter: delimiter)
        {
            start = .pastPrefix(common)
        }
        // One entry more than the page holds says whether the listing is truncated.
        let entries: [ListingEntry] =
            if let delimiter {
                try await metadata.delimitedEntries(
                    bucket: bucket,
                    prefix: prefix,
                    delimiter: delimiter,
                    from: start,
                    limit: maxKeys + 1
                )
            } else {
                try await metadata.objects(bucket: bucket, prefix: prefix, from: start, limit: maxKeys + 1)
                    .map(ListingEntry.object)
            }
        for entry in entries.prefix(maxKeys) {
            switch entry {
            case .object(let object): page.contents.append(object)
            case .commonPrefix(let common): page.commonPrefixes.append(common)
            }
        }
        page.isTruncated = entries.count > maxKeys
        page.lastKey = entries.prefix(maxKeys).last?.position
        return page
    }

    private static func verify(_ digests: Digests, against request: PutRequest) throws(StorageError) {
        if let expectedSize = request.expectedSize, expectedSize != digests.size {
            throw StorageError(.incompleteBody, "the body has \(digests.size) bytes, not the \(expectedSize) announced")
        }
        if let expected = request.expectedSHA256Hex, expected != digests.sha256Hex() {
            throw StorageError(.contentSHA256Mismatch, "the body does not hash to x-amz-content-sha256")
        }
        if let expected = request.expectedMD5Base64, expected != digests.md5Base64() {
            throw StorageError(.badDigest, "the Content-MD5 you specified did not match what we received")
        }
        let trailing = request.trailingChecksums?() ?? [:]
        for (algorithm, expected) in request.expectedChecksums.merging(
            trailing,
            uniquingKeysWith: { first, _ in first }
        )
        where digests.checksum(algorithm) != expected {
            throw StorageError(.badDigest, "the \(algorithm.headerName) you specified did not match what we received")
        }
    }

    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// What a PutObject asks for, beyond its body.
public struct PutRequest: Sendable {
    public var bucket: String
    public var key: String
    public var contentHeaders: [String: String]
    public var userMetadata: [String: String]
    public var preconditions: WritePreconditions
    /// `Content-MD5`, base64.
    public var expectedMD5Base64: String?
    /// `x-amz-content-sha256` when it is a hash of the payload.
    public var expectedSHA256Hex: String?
    /// `x-amz-checksum-*` values sent with the request (or in its trailer).
    public var expectedChecksums: [ChecksumAlgorithm: String]
    /// Checksums to compute and store although no value was sent (`x-amz-sdk-checksum-algorithm`).
    public var checksumsToCompute: Set<ChecksumAlgorithm>
    /// The body's announced length, checked once it has been read.
    public var expectedSize: Int64?
    /// Checksums that arrive after the body (an aws-chunked trailer), read once the body has ended.
    public var trailingChecksums: (@Sendable () -> [ChecksumAlgorithm: String])?
    /// The lock and token the write claims to hold (`x-palisade-lock`, `x-palisade-fencing-token`).
    public var fence: FenceClaim?
    /// The name the write is recorded under when it commits (``WriteRecord``).
    public var writeName: String?

    public init(
        bucket: String,
        key: String,
        contentHeaders: [String: String] = [:],
        userMetadata: [String: String] = [:],
        preconditions: WritePreconditions = .init(),
        expectedMD5Base64: String? = nil,
        expectedSHA256Hex: String? = nil,
        expectedChecksums: [ChecksumAlgorithm: String] = [:],
        checksumsToCompute: Set<ChecksumAlgorithm> = [],
        expectedSize: Int64? = nil
    ) {
        self.bucket = bucket
        self.key = key
        self.contentHeaders = contentHeaders
        self.userMetadata = userMetadata
        self.preconditions = preconditions
        self.expectedMD5Base64 = expectedMD5Base64
        self.expectedSHA256Hex = expectedSHA256Hex
        self.expectedChecksums = expectedChecksums
        self.checksumsToCompute = checksumsToCompute
        self.expectedSize = expectedSize
    }
}

/// One page of a listing.
public struct ListPage: Sendable {
    public var contents: [ListedObject] = []
    public var commonPrefixes: [String] = []
    public var isTruncated = false
    /// The last key or common prefix on this page: where the next page starts.
    public var lastKey: String?
}
