import GRDB
import PalisadeSQLite
import PalisadeSupport
import StorageCore

/// Object metadata in SQLite (WAL mode, one file in the data folder): the embedded mode's
/// ``MetadataStore``. Commits are written by group commit: those that arrive together share one
/// write transaction (and one fsync), each in a savepoint of its own; readers never block the writer.
public final class SQLiteMetadataStore: MetadataStore {
    let database: DatabasePool
    let groupCommit: GroupCommit
    /// Serves the hot one-statement reads.
    let reader: SQLiteReader
    /// Asked, inside each fenced commit, whether the token is the lock's live holder.
    let authority: (any FenceAuthority)?
    /// Released for a commit that frees space (a delete, an abort) when the disk is full.
    let reserve: SpaceReserve?

    /// Opens (creating when needed) the database at `path`.
    /// - Parameters:
    ///   - durable: fsync each commit (`synchronous = FULL`); otherwise commits survive a crash of
    ///     the process but not necessarily a power loss.
    ///   - authority: the lock service that says whether a token is its lock's live holder; nil
    ///     where none runs (only token order is checked).
    public init(
        path: String,
        durable: Bool,
        authority: (any FenceAuthority)?,
        reserve: SpaceReserve?,
        inlineLimit: Int = SQLiteMetadataStore.defaultInlineLimit
    ) throws {
        self.authority = authority
        self.reserve = reserve
        self.inlineLimit = inlineLimit
        database = try DatabasePool(path: path, configuration: SQLiteSetup.configuration())
        try SQLiteSetup.setDurability(of: database, durable: durable)
        try database.write(SQLiteMetadataSchema.create(in:))
        groupCommit = GroupCommit(database: database)
        reader = SQLiteReader(path: path)
    }

    /// How many write transactions have carried how many commits so far.
    public var commitCounts: (transactions: Int, commits: Int) { groupCommit.counts }

    /// One process serves the store: its own readers are all the readers.
    public var recordsRetiredBlobs: Bool { false }

    public let inlineLimit: Int
    /// Objects up to 64 KiB are kept in the database (`Benchmarks/cost` and `palisade bench gateway`
    /// measure what that saves).
    public static let defaultInlineLimit = 64 * 1024

    public func commit<T: Sendable>(
        _ scope: TransactionScope,
        freesSpace: Bool,
        _ body: @escaping @Sendable (any MetadataTransaction) throws -> T
    ) async throws(StorageError) -> Commit<T> {
        do {
            return try await groupCommit.commit { [authority] db in
                let transaction = SQLiteMetadataTransaction(db, authority: authority)
                let value = try body(transaction)
                return Commit(value: value, sequence: transaction.sequence)
            }
        } catch let error as StorageError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            if freesSpace, reserve?.release() == true { return try await commit(scope, freesSpace: false, body) }
            throw StorageError.outOfSpace(detail: "metadata commit: \(error)")
        } catch {
            throw StorageError(.internalError, "the metadata store failed", detail: "\(error)")
        }
    }

    public func read<T: Sendable>(
        _ scope: TransactionScope,
        _ body: @escaping @Sendable (any MetadataTransaction) throws -> T
    ) throws -> T {
        try database.read { [authority] db in try body(SQLiteMetadataTransaction(db, authority: authority)) }
    }

    // MARK: Reads
    //
    // Reads run inline on the caller's thread: in WAL mode a reader never waits for the writer, and
    // reading hot metadata pages is CPU work; hopping to a reader queue cost more than the read.

    public func bucketNames() throws -> [(name: String, created: Int64)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT name, created_ms FROM bucket ORDER BY name").map {
                ($0["name"], $0["created_ms"])
            }
        }
    }

    public func bucketExists(_ name: String) throws -> Bool {
        try read(TransactionScope(bucket: name)) { try $0.bucketExists(name) }
    }

    // The look-ups below are one statement each, atomic on its own: no transaction around them.

    public func head(bucket: String, key: String) throws -> ObjectHead? {
        try reader.head(bucket: bucket, key: key)
    }

    public func writeRecord(named name: String) throws -> WriteRecord? {
        try reader.writeRecord(named: name)
    }

    public func fencedPaths(in bucket: String) throws -> [FencedPath]? {
        try reader.fencedPaths(in: bucket)
    }

    public func currentVersionID(bucket: String, key: String) throws -> String? {
        try database.unsafeRead { db in
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT version_id FROM object WHERE bucket = ? AND key = ?"),
                arguments: [bucket, key]
            )
        }
    }

    public func objects(bucket: String, prefix: String, from start: ListingStart, limit: Int) throws -> [ListedObject] {
        // Both bounds are on the primary key, so SQLite seeks to the first key and stops at the
        // prefix's end. Keys compare as bytes; `X'FF'` after a string sorts after all its keys.
        let (lower, startValue) = Self.lowerBound(of: start, within: prefix)
        let sql = """
            SELECT key, size, etag, last_modified_ms FROM object
            WHERE bucket = :bucket AND \(lower) AND key < (:prefix || X'FF') ORDER BY key LIMIT :limit
            """
        let arguments: StatementArguments = ["bucket": bucket, "start": startValue, "prefix": prefix, "limit": limit]
        // One statement, atomic on its own: no transaction around it.
        return try database.unsafeRead { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(SQLiteRows.listed(from:))
        }
    }

    /// The condition on `key` where a listing of `prefix` from `start` begins, and its `:start`.
    private static func lowerBound(of start: ListingStart, within prefix: String) -> (condition: String, start: String)
    {
        switch start.clamped(to: prefix) {
        case nil: ("key >= :start", prefix)
        case .after(let key): ("key > :start", key)
        case .pastPrefix(let rolledUp): ("key > (:start || X'FF')", rolledUp)
        }
    }

    /// A skip scan in one statement: a recursive query steps from each entry to the next key past
    /// it — past the whole common prefix when the key rolls up — one index seek per entry,
    /// however many keys each common prefix holds. (`substr` and `instr` count characters, as
    /// `skip` does.)
    public func delimitedEntries(
        bucket: String,
        prefix: String,
        delimiter: String,
        from start: ListingStart,
        limit: Int
    ) throws -> [ListingEntry] {
        guard limit > 0, !delimiter.isEmpty else { return [] }
        let (first, startValue) = Self.lowerBound(of: start, within: prefix)
        let sql = """
            WITH RECURSIVE walk(key, n) AS (
                SELECT (SELECT key FROM object WHERE bucket = :bucket AND \(first) AND key < (:prefix || X'FF')
                        ORDER BY key LIMIT 1), 1
                UNION ALL
                SELECT (SELECT key FROM object WHERE bucket = :bucket AND key > (
                            CASE WHEN instr(substr(walk.key, :skip + 1), :delimiter) > 0
                            THEN substr(walk.key, 1, :skip + instr(substr(walk.key, :skip + 1), :delimiter)
                                + length(:delimiter) - 1) || X'FF'
                            ELSE walk.key END)
                        AND key < (:prefix || X'FF') ORDER BY key LIMIT 1), n + 1
                FROM walk WHERE walk.key IS NOT NULL AND n < :limit
            )
            SELECT object.key, size, etag, last_modified_ms FROM walk
            JOIN object ON object.bucket = :bucket AND object.key = walk.key ORDER BY walk.n
            """
        let arguments: StatementArguments = [
            "bucket": bucket, "start": startValue, "prefix": prefix, "delimiter": delimiter,
            "skip": prefix.unicodeScalars.count, "limit": limit,
        ]
        // One statement, atomic on its own: no transaction around it.
        return try database.unsafeRead { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map {
                ListingEntry(SQLiteRows.listed(from: $0), under: prefix, delimiter: delimiter)
            }
        }
    }

    public func parts(of uploadID: String, after marker: Int, limit: Int) throws -> [UploadedPart] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM part WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
                arguments: [uploadID, marker, limit]
            ).map(SQLiteRows.part(from:))
        }
    }

    public func uploads(bucket: String, prefix: String, limit: Int) throws -> [MultipartUpload] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM upload WHERE bucket = ? AND substr(key, 1, length(?)) = ?
                    ORDER BY key, initiated_ms LIMIT ?
                    """,
                arguments: [bucket, prefix, prefix, limit]
            ).map(SQLiteRows.upload(from:))
        }
    }

    public func fencedPaths() throws -> [FencedPath] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT bucket, prefix FROM fenced_path ORDER BY bucket, prefix").map {
                FencedPath(bucket: $0["bucket"], prefix: $0["prefix"])
            }
        }
    }

    public func removeWriteRecords(recordedBefore time: Int64) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM write_record WHERE recorded_ms < ?", arguments: [time])
            return db.changesCount
        }
    }

    public func referencedBlobIDs() throws -> Set<String> {
        try database.read { db in
            var ids = Set(try String.fetchAll(db, sql: "SELECT blob_id FROM part"))
            for text in try String.fetchAll(db, sql: "SELECT segments FROM object") {
                for segment in SQLiteRows.segments(text) { ids.insert(segment.blobID) }
            }
            return ids
        }
    }
}
