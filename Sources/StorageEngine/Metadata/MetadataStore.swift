public import StorageCore

/// Where object metadata lives: buckets, current versions, uploads and parts, the fenced paths and
/// the highest token of each lock. The embedded mode keeps it in SQLite (``SQLiteMetadataStore``).
///
/// Every change is a commit: a body run against a ``MetadataTransaction`` whose changes the store
/// applies atomically, with the commit's sequence — the store-wide order of commits that change a key.
public protocol MetadataStore: Sendable {
    /// True when a commit records the blobs of the version it replaces or deletes, for a sweeper to
    /// remove after a grace period (readers on other gateways may still be streaming them): the
    /// object store then leaves those blobs on disk. False: the object store unlinks them when its
    /// own last reader closes.
    var recordsRetiredBlobs: Bool { get }

    /// The largest object, in bytes, the store keeps inline with its head (``ObjectHead/inlineData``),
    /// in the commit that writes the head: no blob file, no fsync of its own. 0: none.
    var inlineLimit: Int { get }

    /// Runs `body` as one transaction and applies its changes when it returns; nothing when it throws.
    /// - Parameters:
    ///   - scope: what the commit reads, which a store may fetch before it runs `body`.
    ///   - freesSpace: the commit removes more than it adds (a delete, an abort), so on a full disk
    ///     the store may spend its space reserve on it.
    /// - Returns: what `body` returned, and the sequence of the commit when it put or removed a head.
    func commit<T: Sendable>(
        _ scope: TransactionScope,
        freesSpace: Bool,
        _ body: @escaping @Sendable (any MetadataTransaction) throws -> T
    ) async throws(StorageError) -> Commit<T>

    /// Runs `body` against one consistent view of the metadata, changing nothing.
    func read<T: Sendable>(
        _ scope: TransactionScope,
        _ body: @escaping @Sendable (any MetadataTransaction) throws -> T
    ) async throws -> T

    // Reads on their own, one consistent look-up each (the hot paths: GET, HEAD, listings).

    /// Buckets in name order, with their creation time (ms since 1970).
    func bucketNames() async throws -> [(name: String, created: Int64)]
    func bucketExists(_ name: String) async throws -> Bool
    func head(bucket: String, key: String) async throws -> ObjectHead?
    /// The record of the write named `name`, when there is one (every named write asks first).
    func writeRecord(named name: String) async throws -> WriteRecord?
    /// The version id of the key's current version, without the rest of its head.
    func currentVersionID(bucket: String, key: String) async throws -> String?
    /// Objects of `bucket` whose keys start with `prefix`, from `start`, in key order: one
    /// index seek, reading no key outside the prefix.
    func objects(bucket: String, prefix: String, from start: ListingStart, limit: Int) async throws -> [ListedObject]
    /// Up to `limit` entries of a listing of `prefix` with `delimiter`, from `start`, in key order:
    /// the objects with no delimiter after the prefix, and each common prefix once.
    func delimitedEntries(
        bucket: String,
        prefix: String,
        delimiter: String,
        from start: ListingStart,
        limit: Int
    ) async throws -> [ListingEntry]
    func parts(of uploadID: String, after marker: Int, limit: Int) async throws -> [UploadedPart]
    /// Uploads in progress in `bucket` whose key starts with `prefix`, by key then initiation.
    func uploads(bucket: String, prefix: String, limit: Int) async throws -> [MultipartUpload]
    /// Every fenced path.
    func fencedPaths() async throws -> [FencedPath]
    /// The fenced paths of `bucket`, nil when there is no such bucket (a write asks before its
    /// body arrives).
    func fencedPaths(in bucket: String) async throws -> [FencedPath]?
    /// Every blob referenced by a current version or an uploaded part.
    func referencedBlobIDs() async throws -> Set<String>
    /// Removes the write records made before `time` (ms since 1970). - Returns: how many.
    func removeWriteRecords(recordedBefore time: Int64) async throws -> Int
}

/// What a transaction will read, declared up front: a store that reads over the network fetches it
/// all in one round trip before the transaction runs (a read outside it is fetched when asked for).
public struct TransactionScope: Sendable {
    /// The bucket the transaction reads or writes, if any.
    public var bucket: String?
    /// The key the transaction reads or writes, if any.
    public var key: String?
    /// The write's fencing claim, if any.
    public var fence: FenceClaim?
    /// The multipart upload the transaction works on, if any.
    public var uploadID: String?
    /// The names of the write whose records the transaction reads.
    public var writeNames: [String]

    public init(
        bucket: String? = nil,
        key: String? = nil,
        fence: FenceClaim? = nil,
        uploadID: String? = nil,
        writeNames: [String] = []
    ) {
        self.bucket = bucket
        self.key = key
        self.fence = fence
        self.uploadID = uploadID
        self.writeNames = writeNames
    }
}

/// What a commit returned, and its sequence when it changed a key.
public struct Commit<Value: Sendable>: Sendable {
    public var value: Value
    /// The commit's place in the store-wide order; nil when the commit put or removed no head.
    public var sequence: UInt64?

    public init(value: Value, sequence: UInt64?) {
        self.value = value
        self.sequence = sequence
    }
}

extension MetadataStore {
    public func writeRecord(named name: String) async throws -> WriteRecord? {
        try await read(TransactionScope(writeNames: [name])) { try $0.writeRecord(name) }
    }

    public func fencedPaths(in bucket: String) async throws -> [FencedPath]? {
        try await read(TransactionScope(bucket: bucket)) {
            try $0.bucketExists(bucket) ? $0.fencedPaths(in: bucket) : nil
        }
    }
}
