import Foundation
import GRDB
import PalisadeSQLite
import PalisadeSupport
import StorageCore

/// Object metadata in SQLite (WAL mode, one file in the data folder). Every write is one
/// transaction, which is the write's commit point; readers never block the writer.
public final class SQLiteMetadataStore: Sendable {
    let database: DatabasePool
    /// Asked, inside each fenced commit, whether the token is the lock's live holder.
    let authority: (any FenceAuthority)?
    /// Released for a commit that frees space (a delete, an abort) when the disk is full.
    let reserve: SpaceReserve?

    /// Opens (creating when needed) the database at `path`.
    /// - Parameter durable: fsync each commit (`synchronous = FULL`); otherwise commits survive a
    ///   crash of the process but not necessarily a power loss.
    public init(path: String, durable: Bool, authority: (any FenceAuthority)?, reserve: SpaceReserve?) throws {
        self.authority = authority
        self.reserve = reserve
        database = try DatabasePool(path: path, configuration: SQLiteSetup.configuration())
        try SQLiteSetup.setDurability(of: database, durable: durable)
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS bucket (
                        name TEXT PRIMARY KEY NOT NULL,
                        created_ms INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS object (
                        bucket TEXT NOT NULL,
                        key TEXT NOT NULL,
                        version_id TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        etag TEXT NOT NULL,
                        last_modified_ms INTEGER NOT NULL,
                        commit_sequence INTEGER NOT NULL,
                        content_headers TEXT NOT NULL,
                        user_metadata TEXT NOT NULL,
                        checksums TEXT NOT NULL,
                        segments TEXT NOT NULL,
                        fence_lock TEXT,
                        fence_token INTEGER,
                        PRIMARY KEY (bucket, key)
                    ) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS upload (
                        upload_id TEXT PRIMARY KEY NOT NULL,
                        bucket TEXT NOT NULL,
                        key TEXT NOT NULL,
                        initiated_ms INTEGER NOT NULL,
                        content_headers TEXT NOT NULL,
                        user_metadata TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX IF NOT EXISTS upload_by_key ON upload (bucket, key, initiated_ms);
                    CREATE TABLE IF NOT EXISTS part (
                        upload_id TEXT NOT NULL,
                        part_number INTEGER NOT NULL,
                        blob_id TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        etag TEXT NOT NULL,
                        last_modified_ms INTEGER NOT NULL,
                        fence_token INTEGER,
                        PRIMARY KEY (upload_id, part_number)
                    ) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS fence (
                        lock TEXT PRIMARY KEY NOT NULL,
                        highest_token INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS fenced_path (
                        bucket TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        PRIMARY KEY (bucket, prefix)
                    ) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS counter (
                        name TEXT PRIMARY KEY NOT NULL,
                        value INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    """
            )
        }
    }

    // MARK: Reads
    //
    // Reads run inline on the caller's thread: in WAL mode a reader never waits for the writer, and
    // reading hot metadata pages is CPU work; hopping to a reader queue cost more than the read.

    func bucketNames() throws -> [(name: String, created: Int64)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT name, created_ms FROM bucket ORDER BY name").map {
                ($0["name"], $0["created_ms"])
            }
        }
    }

    func bucketExists(_ name: String) throws -> Bool {
        try database.read { db in try Self.bucketExists(db, name) }
    }

    // The two look-ups below are one statement each, atomic on its own: no transaction around them.

    func head(bucket: String, key: String) throws -> ObjectHead? {
        try database.unsafeRead { db in try Self.head(db, bucket: bucket, key: key) }
    }

    /// The version id of the key's current version, without reading the rest of its head.
    func currentVersionID(bucket: String, key: String) throws -> String? {
        try database.unsafeRead { db in
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT version_id FROM object WHERE bucket = ? AND key = ?"),
                arguments: [bucket, key]
            )
        }
    }

    /// Objects of `bucket` whose keys start with `prefix` and sort after `after`, in key order.
    func objects(bucket: String, prefix: String, after: String, limit: Int) throws -> [ObjectHead] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM object WHERE bucket = ? AND key > ? AND substr(key, 1, length(?)) = ?
                    ORDER BY key LIMIT ?
                    """,
                arguments: [bucket, after, prefix, prefix, limit]
            ).map(Self.head(from:))
        }
    }

    /// Every blob referenced by a committed object or an uploaded part.
    func referencedBlobIDs() throws -> Set<String> {
        try database.read { db in
            var ids = Set(try String.fetchAll(db, sql: "SELECT blob_id FROM part"))
            for text in try String.fetchAll(db, sql: "SELECT segments FROM object") {
                for segment in Self.segments(text) { ids.insert(segment.blobID) }
            }
            return ids
        }
    }

    func upload(_ id: String) throws -> MultipartUpload? {
        try database.read { db in try Self.upload(db, id) }
    }

    func parts(of uploadID: String, after marker: Int, limit: Int) throws -> [UploadedPart] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM part WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
                arguments: [uploadID, marker, limit]
            ).map(Self.part(from:))
        }
    }

    /// Uploads in progress in `bucket` whose key starts with `prefix`, by key then initiation.
    func uploads(bucket: String, prefix: String, limit: Int) throws -> [MultipartUpload] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM upload WHERE bucket = ? AND substr(key, 1, length(?)) = ?
                    ORDER BY key, initiated_ms LIMIT ?
                    """,
                arguments: [bucket, prefix, prefix, limit]
            ).map(Self.upload(from:))
        }
    }

    // MARK: Commits

    func createBucket(_ name: String, createdAt: Int64) async throws(StorageError) {
        try await write { db in
            if try Self.bucketExists(db, name) {
                throw StorageError(.bucketAlreadyOwnedByYou, "the bucket '\(name)' exists and is yours")
            }
            try db.execute(sql: "INSERT INTO bucket (name, created_ms) VALUES (?, ?)", arguments: [name, createdAt])
        }
    }

    func deleteBucket(_ name: String) async throws(StorageError) {
        try await write(freesSpace: true) { db in
            guard try Self.bucketExists(db, name) else { throw Self.noSuchBucket(name) }
            let inUse = try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM object WHERE bucket = ?) OR EXISTS (SELECT 1 FROM upload WHERE bucket = ?)
                    """,
                arguments: [name, name]
            )
            if inUse == true { throw StorageError(.bucketNotEmpty, "the bucket '\(name)' is not empty") }
            try db.execute(sql: "DELETE FROM bucket WHERE name = ?", arguments: [name])
        }
    }

    /// Commits a new current version if the commit rules accept it.
    /// - Returns: the committed head (with its commit sequence) and the version it replaced.
    func commitPut(
        _ head: ObjectHead,
        intent: WriteIntent
    ) async throws(StorageError)
        -> (committed: ObjectHead, replaced: ObjectHead?)
    {
        try await write { [authority] db in try Self.commitPut(db, head, intent: intent, authority: authority) }
    }

    /// Commits a delete if the commit rules accept it; deleting an absent key commits nothing.
    /// - Returns: the commit sequence (nil when nothing was deleted) and the removed version.
    func commitDelete(
        bucket: String,
        key: String,
        intent: WriteIntent
    ) async throws(StorageError)
        -> (sequence: UInt64?, removed: ObjectHead?)
    {
        try await write(freesSpace: true) { [authority] db in
            guard try Self.bucketExists(db, bucket) else { throw Self.noSuchBucket(bucket) }
            let current = try Self.head(db, bucket: bucket, key: key)
            try Self.check(db, intent, current: current, bucket: bucket, key: key, authority: authority)
            guard let current else { return (nil, nil) }
            try db.cachedStatement(sql: "DELETE FROM object WHERE bucket = ? AND key = ?")
                .execute(arguments: [bucket, key])
            return (try Self.nextCommitSequence(db), current)
        }
    }

    func createUpload(_ upload: MultipartUpload, fence: FenceClaim?) async throws(StorageError) {
        try await write { [authority] db in
            guard try Self.bucketExists(db, upload.bucket) else { throw Self.noSuchBucket(upload.bucket) }
            try Self.check(
                db,
                WriteIntent(kind: .put, fence: fence),
                current: nil,
                bucket: upload.bucket,
                key: upload.key,
                authority: authority
            )
            try db.execute(
                sql: """
                    INSERT INTO upload (upload_id, bucket, key, initiated_ms, content_headers, user_metadata)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    upload.id, upload.bucket, upload.key, upload.initiated, Self.json(upload.contentHeaders),
                    Self.json(upload.userMetadata),
                ]
            )
        }
    }

    /// Commits a part (the last upload of a part number wins, by commit order).
    /// - Returns: the blob of the part it replaced.
    func commitPart(
        _ part: UploadedPart,
        uploadID: String,
        bucket: String,
        key: String,
        fence: FenceClaim?
    ) async throws(StorageError)
        -> String?
    {
        try await write { [authority] db in
            _ = try Self.requireUpload(db, uploadID, bucket: bucket, key: key)
            try Self.check(
                db,
                WriteIntent(kind: .put, fence: fence),
                current: nil,
                bucket: bucket,
                key: key,
                authority: authority
            )
            let replaced = try String.fetchOne(
                db,
                sql: "SELECT blob_id FROM part WHERE upload_id = ? AND part_number = ?",
                arguments: [uploadID, part.number]
            )
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO part (upload_id, part_number, blob_id, size, etag, last_modified_ms, fence_token)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    uploadID, part.number, part.blobID, part.size, part.etag, part.lastModified,
                    part.fenceToken.map { Int64(bitPattern: $0) },
                ]
            )
            return replaced
        }
    }

    /// Ends an upload without an object. - Returns: the blobs of its parts.
    func abortUpload(
        _ uploadID: String,
        bucket: String,
        key: String,
        fence: FenceClaim?
    ) async throws(StorageError)
        -> [String]
    {
        try await write(freesSpace: true) { [authority] db in
            _ = try Self.requireUpload(db, uploadID, bucket: bucket, key: key)
            try Self.check(
                db,
                WriteIntent(kind: .delete, fence: fence),
                current: nil,
                bucket: bucket,
                key: key,
                authority: authority
            )
            let blobs = try String.fetchAll(
                db,
                sql: "SELECT blob_id FROM part WHERE upload_id = ?",
                arguments: [uploadID]
            )
            try Self.deleteUpload(db, uploadID)
            return blobs
        }
    }

    /// Completes an upload into an object in one transaction: the parts are checked by
    /// ``MultipartRules``, the object is committed by ``CommitRules``, the upload ends.
    /// - Returns: the committed head, the version it replaced, and the blobs of parts left out.
    func completeUpload(
        _ uploadID: String,
        bucket: String,
        key: String,
        requested: [RequestedPart],
        intent: WriteIntent,
        makeHead: @escaping @Sendable (MultipartUpload, MultipartRules.Assembly) -> ObjectHead
    ) async throws(StorageError) -> (committed: ObjectHead, replaced: ObjectHead?, unused: [String]) {
        try await write { [authority] db in
            let upload = try Self.requireUpload(db, uploadID, bucket: bucket, key: key)
            let uploaded = try Row.fetchAll(db, sql: "SELECT * FROM part WHERE upload_id = ?", arguments: [uploadID])
                .map(Self.part(from:))
            let assembly: MultipartRules.Assembly
            switch MultipartRules.assemble(requested: requested, uploaded: uploaded) {
            case .success(let value): assembly = value
            case .failure(let rejection): throw StorageError(rejection)
            }
            if let claim = intent.fence, (assembly.lowestPartToken ?? 0) < claim.token {
                // A part uploaded under an older grant (or without one) never becomes part of a fenced object.
                throw StorageError(
                    CommitRejection.staleFencingToken(presented: assembly.lowestPartToken ?? 0, highest: claim.token)
                )
            }
            let (committed, replaced) = try Self.commitPut(
                db,
                makeHead(upload, assembly),
                intent: intent,
                authority: authority
            )
            try Self.deleteUpload(db, uploadID)
            let used = Set(assembly.segments.map(\.blobID))
            return (committed, replaced, uploaded.map(\.blobID).filter { !used.contains($0) })
        }
    }

    // MARK: Helpers

    /// Runs `body` as one write transaction. When the disk is full, a commit that frees space
    /// (`freesSpace`) releases the space reserve and tries once more.
    private func write<T: Sendable>(
        freesSpace: Bool = false,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(StorageError) -> T {
        do {
            return try await database.write(body)
        } catch let error as StorageError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            if freesSpace, reserve?.release() == true { return try await write(body) }
            throw StorageError.outOfSpace(detail: "metadata commit: \(error)")
        } catch {
            throw StorageError(.internalError, "the metadata store failed", detail: "\(error)")
        }
    }

    private static func commitPut(
        _ db: Database,
        _ head: ObjectHead,
        intent: WriteIntent,
        authority: (any FenceAuthority)?
    ) throws
        -> (committed: ObjectHead, replaced: ObjectHead?)
    {
        guard try bucketExists(db, head.bucket) else { throw noSuchBucket(head.bucket) }
        let current = try Self.head(db, bucket: head.bucket, key: head.key)
        try check(db, intent, current: current, bucket: head.bucket, key: head.key, authority: authority)
        var committed = head
        committed.fence = intent.fence
        committed.commitSequence = try nextCommitSequence(db)
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO object (bucket, key, version_id, size, etag, last_modified_ms,
                    commit_sequence, content_headers, user_metadata, checksums, segments, fence_lock, fence_token)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                committed.bucket, committed.key, committed.versionID, committed.size, committed.etag,
                committed.lastModified, Int64(committed.commitSequence), json(committed.contentHeaders),
                json(committed.userMetadata), json(committed.checksums), segmentsJSON(committed.segments),
                committed.fence?.lock, committed.fence.map { Int64(bitPattern: $0.token) },
            ]
        )
        return (committed, current)
    }

    /// Runs the commit rules (fencing, then preconditions) inside the commit transaction, and on
    /// acceptance records the claim's token as its lock's highest, in the same transaction.
    private static func check(
        _ db: Database,
        _ intent: WriteIntent,
        current: ObjectHead?,
        bucket: String,
        key: String,
        authority: (any FenceAuthority)?
    ) throws {
        let fence = try fenceCheck(db, claim: intent.fence, bucket: bucket, key: key, authority: authority)
        switch CommitRules.decide(intent, current: current, fence: fence) {
        case .accept:
            guard let claim = intent.fence else { return }
            try db.cachedStatement(
                sql: """
                    INSERT INTO fence (lock, highest_token) VALUES (?, ?)
                    ON CONFLICT(lock) DO UPDATE SET highest_token = max(highest_token, excluded.highest_token)
                    """
            ).execute(arguments: [claim.lock, Int64(bitPattern: claim.token)])
        case .reject(let rejection):
            throw StorageError(rejection)
        }
    }

    private static func fencedPaths(_ db: Database) throws -> [FencedPath] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT bucket, prefix FROM fenced_path ORDER BY bucket, prefix")).map
        {
            FencedPath(bucket: $0["bucket"], prefix: $0["prefix"])
        }
    }

    /// The fenced paths.
    func fencedPaths() throws -> [FencedPath] {
        try database.read { db in try Self.fencedPaths(db) }
    }

    /// Fences or unfences a path.
    func setFenced(_ path: FencedPath, _ fenced: Bool) async throws(StorageError) {
        try await write { db in
            if fenced {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO fenced_path (bucket, prefix) VALUES (?, ?)",
                    arguments: [path.bucket, path.prefix]
                )
            } else {
                try db.execute(
                    sql: "DELETE FROM fenced_path WHERE bucket = ? AND prefix = ?",
                    arguments: [path.bucket, path.prefix]
                )
            }
        }
    }

    /// The highest token recorded for `lock`, if any.
    func highestToken(of lock: String) throws -> UInt64? {
        try database.read { db in try Self.highestToken(db, of: lock) }
    }

    private static func highestToken(_ db: Database, of lock: String) throws -> UInt64? {
        let statement = try db.cachedStatement(sql: "SELECT highest_token FROM fence WHERE lock = ?")
        return try Int64.fetchOne(statement, arguments: [lock]).map { UInt64(bitPattern: $0) }
    }

    /// What the fencing rule needs to judge a write of `bucket/key` carrying `claim`, read in one
    /// transaction: for the precheck as the request arrives (the commit point reads it again).
    func fenceCheck(claim: FenceClaim?, bucket: String, key: String) throws -> FenceCheck {
        try database.read { db in
            try Self.fenceCheck(db, claim: claim, bucket: bucket, key: key, authority: authority)
        }
    }

    private static func fenceCheck(
        _ db: Database,
        claim: FenceClaim?,
        bucket: String,
        key: String,
        authority: (any FenceAuthority)?
    ) throws -> FenceCheck {
        FenceCheck(
            claim: claim,
            pathIsFenced: try fencedPaths(db).contains { $0.contains(bucket: bucket, key: key) },
            highestToken: try claim.flatMap { try highestToken(db, of: $0.lock) },
            claimIsLiveHolder: claim.flatMap { authority?.isLiveHolder(lock: $0.lock, token: $0.token) }
        )
    }

    static func noSuchBucket(_ name: String) -> StorageError {
        StorageError(.noSuchBucket, "the bucket '\(name)' does not exist")
    }

    private static func bucketExists(_ db: Database, _ name: String) throws -> Bool {
        let statement = try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM bucket WHERE name = ?)")
        return try Bool.fetchOne(statement, arguments: [name]) ?? false
    }

    private static func head(_ db: Database, bucket: String, key: String) throws -> ObjectHead? {
        let statement = try db.cachedStatement(sql: "SELECT * FROM object WHERE bucket = ? AND key = ?")
        return try Row.fetchOne(statement, arguments: [bucket, key]).map(head(from:))
    }

    private static func head(from row: Row) -> ObjectHead {
        ObjectHead(
            bucket: row["bucket"],
            key: row["key"],
            versionID: row["version_id"],
            size: row["size"],
            etag: row["etag"],
            lastModified: row["last_modified_ms"],
            commitSequence: UInt64(row["commit_sequence"] as Int64),
            contentHeaders: dictionary(row["content_headers"]),
            userMetadata: dictionary(row["user_metadata"]),
            checksums: dictionary(row["checksums"]),
            segments: segments(row["segments"]),
            fence: (row["fence_lock"] as String?).flatMap { lock in
                (row["fence_token"] as Int64?).map { FenceClaim(lock: lock, token: UInt64(bitPattern: $0)) }
            }
        )
    }

    private static func upload(_ db: Database, _ id: String) throws -> MultipartUpload? {
        try Row.fetchOne(db, sql: "SELECT * FROM upload WHERE upload_id = ?", arguments: [id]).map(upload(from:))
    }

    private static func requireUpload(
        _ db: Database,
        _ id: String,
        bucket: String,
        key: String
    ) throws -> MultipartUpload {
        guard let upload = try upload(db, id), upload.bucket == bucket, upload.key == key else {
            throw StorageError(
                .noSuchUpload,
                "the upload '\(id)' does not exist: it was completed, aborted or never created"
            )
        }
        return upload
    }

    private static func deleteUpload(_ db: Database, _ id: String) throws {
        try db.execute(sql: "DELETE FROM part WHERE upload_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM upload WHERE upload_id = ?", arguments: [id])
    }

    private static func upload(from row: Row) -> MultipartUpload {
        MultipartUpload(
            id: row["upload_id"],
            bucket: row["bucket"],
            key: row["key"],
            initiated: row["initiated_ms"],
            contentHeaders: dictionary(row["content_headers"]),
            userMetadata: dictionary(row["user_metadata"])
        )
    }

    private static func part(from row: Row) -> UploadedPart {
        UploadedPart(
            number: row["part_number"],
            blobID: row["blob_id"],
            size: row["size"],
            etag: row["etag"],
            lastModified: row["last_modified_ms"],
            fenceToken: (row["fence_token"] as Int64?).map { UInt64(bitPattern: $0) }
        )
    }

    private static func nextCommitSequence(_ db: Database) throws -> UInt64 {
        try db.cachedStatement(
            sql:
                "INSERT INTO counter (name, value) VALUES ('commit', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1"
        ).execute()
        return UInt64(
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM counter WHERE name = 'commit'")) ?? 0
        )
    }

    private static func json(_ value: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    private static func segmentsJSON(_ segments: [ObjectHead.Segment]) -> String {
        String(decoding: (try? JSONEncoder().encode(segments)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func segments(_ text: String) -> [ObjectHead.Segment] {
        (try? JSONDecoder().decode([ObjectHead.Segment].self, from: Data(text.utf8))) ?? []
    }

    private static func dictionary(_ text: String) -> [String: String] {
        // Most objects have no metadata or checksums of their own: skip the decoder then.
        guard text != "{}" else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}
