import Foundation
import GRDB
import StorageCore

/// Object metadata in SQLite (WAL mode, one file in the data folder). Every write is one
/// transaction, which is the write's commit point; readers never block the writer.
public final class SQLiteMetadataStore: Sendable {
    let database: DatabasePool

    /// Opens (creating when needed) the database at `path`.
    /// - Parameter durable: fsync each commit (`synchronous = FULL`); otherwise commits survive a
    ///   crash of the process but not necessarily a power loss.
    public init(path: String, durable: Bool) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durable ? "FULL" : "NORMAL")")
        }
        database = try DatabasePool(path: path, configuration: configuration)
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
                        PRIMARY KEY (bucket, key)
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

    func bucketNames() async throws -> [(name: String, created: Int64)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT name, created_ms FROM bucket ORDER BY name").map {
                ($0["name"], $0["created_ms"])
            }
        }
    }

    func bucketExists(_ name: String) async throws -> Bool {
        try await database.read { db in try Self.bucketExists(db, name) }
    }

    func head(bucket: String, key: String) async throws -> ObjectHead? {
        try await database.read { db in try Self.head(db, bucket: bucket, key: key) }
    }

    /// Objects of `bucket` whose keys start with `prefix` and sort after `after`, in key order.
    func objects(bucket: String, prefix: String, after: String, limit: Int) async throws -> [ObjectHead] {
        try await database.read { db in
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

    /// Every version id referenced by a committed object.
    func referencedVersionIDs() throws -> Set<String> {
        try database.read { db in Set(try String.fetchAll(db, sql: "SELECT version_id FROM object")) }
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
        try await write { db in
            guard try Self.bucketExists(db, name) else { throw Self.noSuchBucket(name) }
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM object WHERE bucket = ?)", arguments: [name])
                == true
            {
                throw StorageError(.bucketNotEmpty, "the bucket '\(name)' is not empty")
            }
            try db.execute(sql: "DELETE FROM bucket WHERE name = ?", arguments: [name])
        }
    }

    /// Commits a new current version if the commit rules accept it.
    /// - Returns: the committed head (with its commit sequence) and the version it replaced.
    func commitPut(
        _ head: ObjectHead,
        intent: WriteIntent
    ) async throws(StorageError) -> (ObjectHead, replaced: String?) {
        try await write { db in
            guard try Self.bucketExists(db, head.bucket) else { throw Self.noSuchBucket(head.bucket) }
            let current = try Self.head(db, bucket: head.bucket, key: head.key)
            try Self.check(intent, current: current)
            var committed = head
            committed.commitSequence = try Self.nextCommitSequence(db)
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO object (bucket, key, version_id, size, etag, last_modified_ms,
                        commit_sequence, content_headers, user_metadata, checksums)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    committed.bucket, committed.key, committed.versionID, committed.size, committed.etag,
                    committed.lastModified, Int64(committed.commitSequence), Self.json(committed.contentHeaders),
                    Self.json(committed.userMetadata), Self.json(committed.checksums),
                ]
            )
            return (committed, current?.versionID)
        }
    }

    /// Commits a delete if the commit rules accept it; deleting an absent key commits nothing.
    /// - Returns: the commit sequence (nil when nothing was deleted) and the removed version.
    func commitDelete(
        bucket: String,
        key: String,
        intent: WriteIntent
    ) async throws(StorageError)
        -> (sequence: UInt64?, removed: String?)
    {
        try await write { db in
            guard try Self.bucketExists(db, bucket) else { throw Self.noSuchBucket(bucket) }
            let current = try Self.head(db, bucket: bucket, key: key)
            try Self.check(intent, current: current)
            guard let current else { return (nil, nil) }
            try db.execute(sql: "DELETE FROM object WHERE bucket = ? AND key = ?", arguments: [bucket, key])
            return (try Self.nextCommitSequence(db), current.versionID)
        }
    }

    // MARK: Helpers

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StorageError) -> T
    {
        do {
            return try await database.write(body)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.internalError, "metadata store: \(error)")
        }
    }

    private static func check(_ intent: WriteIntent, current: ObjectHead?) throws(StorageError) {
        switch CommitRules.decide(intent, current: current) {
        case .accept:
            return
        case .reject(.preconditionFailed):
            throw StorageError(.preconditionFailed, "at least one of the preconditions you specified did not hold")
        case .reject(.conditionalRequestConflict):
            throw StorageError(
                .conditionalRequestConflict,
                "a conflicting operation changed the object while this request ran"
            )
        }
    }

    static func noSuchBucket(_ name: String) -> StorageError {
        StorageError(.noSuchBucket, "the bucket '\(name)' does not exist")
    }

    private static func bucketExists(_ db: Database, _ name: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM bucket WHERE name = ?)", arguments: [name]) ?? false
    }

    private static func head(_ db: Database, bucket: String, key: String) throws -> ObjectHead? {
        try Row.fetchOne(db, sql: "SELECT * FROM object WHERE bucket = ? AND key = ?", arguments: [bucket, key])
            .map(head(from:))
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
            checksums: dictionary(row["checksums"])
        )
    }

    private static func nextCommitSequence(_ db: Database) throws -> UInt64 {
        try db.execute(
            sql:
                "INSERT INTO counter (name, value) VALUES ('commit', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1"
        )
        return UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM counter WHERE name = 'commit'") ?? 0)
    }

    private static func json(_ value: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    private static func dictionary(_ text: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}
