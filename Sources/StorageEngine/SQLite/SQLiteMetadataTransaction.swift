import Foundation
import GRDB
import PalisadeProtocol
import StorageCore

/// A ``MetadataTransaction`` over one SQLite transaction: reads and changes are statements on its
/// connection, and the transaction's commit applies them. The commit sequence is a counter row,
/// taken at most once per transaction.
final class SQLiteMetadataTransaction: MetadataTransaction {
    let db: Database
    let authority: (any FenceAuthority)?
    /// The sequence taken by this transaction's first put or removal of a head.
    private(set) var sequence: UInt64?

    init(_ db: Database, authority: (any FenceAuthority)?) {
        self.db = db
        self.authority = authority
    }

    // MARK: Buckets

    func bucketExists(_ name: String) throws -> Bool {
        let statement = try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM bucket WHERE name = ?)")
        return try Bool.fetchOne(statement, arguments: [name]) ?? false
    }

    func bucketHasObjects(_ name: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM object WHERE bucket = ?)", arguments: [name]) == true
    }

    func insertBucket(_ name: String, createdAt: Int64) throws {
        try db.execute(sql: "INSERT INTO bucket (name, created_ms) VALUES (?, ?)", arguments: [name, createdAt])
    }

    func removeBucket(_ name: String) throws {
        try db.execute(sql: "DELETE FROM bucket WHERE name = ?", arguments: [name])
    }

    // MARK: Objects

    /// The head and, for an object kept inline, its bytes: one statement.
    func head(bucket: String, key: String) throws -> ObjectHead? {
        try SQLiteRows.fetchOne(db.cachedStatement(sql: SQLiteRows.headQuery).sqliteStatement, bucket, key) {
            SQLiteRows.head(from: $0)
        }
    }

    /// Writes `head` as its key's current version; the bytes of the version it replaces, when they
    /// were inline, go with it (a reader of that version already holds them).
    func putHead(_ head: ObjectHead) throws {
        try removeInlineData(bucket: head.bucket, key: head.key)
        if let data = head.inlineData {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO inline_data (version, data) VALUES (?, ?)")
                .execute(arguments: [head.versionID, Data(data)])
        }
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO object (\(SQLiteRows.headColumns))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: SQLiteRows.values(of: head, sequence: try takeSequence()))
    }

    func removeHead(bucket: String, key: String) throws {
        _ = try takeSequence()
        try removeInlineData(bucket: bucket, key: key)
        try db.cachedStatement(sql: "DELETE FROM object WHERE bucket = ? AND key = ?")
            .execute(arguments: [bucket, key])
    }

    private func removeInlineData(bucket: String, key: String) throws {
        try db.cachedStatement(
            sql: "DELETE FROM inline_data WHERE version = (SELECT version_id FROM object WHERE bucket = ? AND key = ?)"
        ).execute(arguments: [bucket, key])
    }

    private func takeSequence() throws -> UInt64 {
        if let sequence { return sequence }
        try db.cachedStatement(
            sql:
                "INSERT INTO counter (name, value) VALUES ('commit', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1"
        ).execute()
        let taken = UInt64(
            bitPattern: try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM counter WHERE name = 'commit'"))
                ?? 0
        )
        sequence = taken
        return taken
    }

    // MARK: Uploads

    func upload(_ id: String) throws -> MultipartUpload? {
        try Row.fetchOne(db, sql: "SELECT * FROM upload WHERE upload_id = ?", arguments: [id])
            .map(SQLiteRows.upload(from:))
    }

    func uploads(in bucket: String, limit: Int) throws -> [MultipartUpload] {
        try Row.fetchAll(
            db,
            sql: "SELECT * FROM upload WHERE bucket = ? ORDER BY key, initiated_ms LIMIT ?",
            arguments: [bucket, limit]
        ).map(SQLiteRows.upload(from:))
    }

    func parts(of uploadID: String) throws -> [UploadedPart] {
        try Row.fetchAll(db, sql: "SELECT * FROM part WHERE upload_id = ?", arguments: [uploadID])
            .map(SQLiteRows.part(from:))
    }

    func insertUpload(_ upload: MultipartUpload) throws {
        try db.execute(
            sql: """
                INSERT INTO upload (upload_id, bucket, key, initiated_ms, content_headers, user_metadata,
                    checksum_algorithm, checksum_type)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                upload.id, upload.bucket, upload.key, upload.initiated, SQLiteRows.json(upload.contentHeaders),
                SQLiteRows.json(upload.userMetadata), upload.checksum?.algorithm.rawValue,
                upload.checksum?.type.rawValue,
            ]
        )
    }

    func putPart(_ part: UploadedPart, uploadID: String) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO part (upload_id, part_number, blob_id, size, etag, last_modified_ms, fence_token,
                    checksum)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                uploadID, part.number, part.blobID, part.size, part.etag, part.lastModified,
                part.fenceToken.map(SQLiteRows.value(of:)), part.checksum,
            ]
        )
    }

    func removeUpload(_ id: String) throws {
        try db.execute(sql: "DELETE FROM part WHERE upload_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM upload WHERE upload_id = ?", arguments: [id])
    }

    // MARK: Write records

    func writeRecord(_ name: String) throws -> WriteRecord? {
        try SQLiteRows.fetchOne(db.cachedStatement(sql: SQLiteRows.writeRecordQuery).sqliteStatement, name) {
            SQLiteRows.writeRecord(from: $0)
        }
    }

    func putWriteRecord(_ record: WriteRecord) throws {
        let committed = record.committed
        try db.cachedStatement(
            sql: """
                INSERT INTO write_record (name, recorded_ms, kind, bucket, key, version_id, etag, commit_sequence)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            record.name, record.recordedAt, committed?.kind.rawValue, committed?.bucket, committed?.key,
            committed?.versionID, committed?.etag, committed == nil ? nil : sequence.map { Int64(bitPattern: $0) },
        ])
    }

    // MARK: Fencing

    func fencedPaths(in bucket: String) throws -> [FencedPath] {
        try String.fetchAll(
            db.cachedStatement(sql: "SELECT prefix FROM fenced_path WHERE bucket = ?"),
            arguments: [bucket]
        ).map { FencedPath(bucket: bucket, prefix: $0) }
    }

    func setFenced(_ path: FencedPath, _ fenced: Bool) throws {
        try db.execute(
            sql: fenced
                ? "INSERT OR IGNORE INTO fenced_path (bucket, prefix) VALUES (?, ?)"
                : "DELETE FROM fenced_path WHERE bucket = ? AND prefix = ?",
            arguments: [path.bucket, path.prefix]
        )
    }

    func highestToken(of lock: LockName) throws -> FencingToken? {
        let statement = try db.cachedStatement(sql: "SELECT highest_token FROM fence WHERE lock = ?")
        return SQLiteRows.token(try Int64.fetchOne(statement, arguments: [lock.rawValue]))
    }

    func raiseHighestToken(_ claim: FenceClaim) throws {
        // Compared as the UInt64 values they are (stored by bit pattern), not as signed integers.
        if let highest = try highestToken(of: claim.lock), highest >= claim.token { return }
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO fence (lock, highest_token) VALUES (?, ?)")
            .execute(arguments: [claim.lock.rawValue, SQLiteRows.value(of: claim.token)])
    }

    func isLiveHolder(_ claim: FenceClaim) throws -> Bool? {
        authority?.isLiveHolder(claim.lock, token: claim.token)
    }
}
