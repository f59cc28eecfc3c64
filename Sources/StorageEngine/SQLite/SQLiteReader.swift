import GRDB
import GRDBSQLite
import PalisadeSQLite
import StorageCore
import Synchronization

/// The hot one-statement reads — an object's head (every GET and HEAD), a write record (every
/// named write), a bucket's fenced paths (every write's early check) — on read-only connections
/// of its own, through SQLite's C API with each statement prepared once per connection: without
/// GRDB's reader pool, its queue hop, its statement cache look-up and its copies of arguments and
/// columns, which cost several times the read itself. Each read is one statement, a consistent
/// snapshot on its own (WAL mode: it never waits for the writer).
final class SQLiteReader: Sendable {
    /// One connection and its prepared statements; used by one thread at a time, handed from one
    /// to the next through ``idle``'s lock.
    private final class Connection: @unchecked Sendable {
        let handle: OpaquePointer
        let head: OpaquePointer
        let writeRecord: OpaquePointer
        let bucketFence: OpaquePointer

        init(path: String) throws {
            var handle: OpaquePointer?
            var code = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
            guard code == SQLITE_OK, let handle else {
                sqlite3_close(handle)
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot open a metadata reader")
            }
            var head: OpaquePointer?
            var writeRecord: OpaquePointer?
            var bucketFence: OpaquePointer?
            code = SQLiteSetup.keepWAL(of: handle)
            if code == SQLITE_OK { code = sqlite3_busy_timeout(handle, 10_000) }
            if code == SQLITE_OK { code = sqlite3_prepare_v3(handle, SQLiteRows.headQuery, -1, 0, &head, nil) }
            if code == SQLITE_OK {
                code = sqlite3_prepare_v3(handle, SQLiteRows.writeRecordQuery, -1, 0, &writeRecord, nil)
            }
            if code == SQLITE_OK {
                code = sqlite3_prepare_v3(handle, SQLiteRows.bucketFenceQuery, -1, 0, &bucketFence, nil)
            }
            guard code == SQLITE_OK, let head, let writeRecord, let bucketFence else {
                let message = String(cString: sqlite3_errmsg(handle))
                for statement in [head, writeRecord, bucketFence] { sqlite3_finalize(statement) }
                sqlite3_close(handle)
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
            }
            self.handle = handle
            self.head = head
            self.writeRecord = writeRecord
            self.bucketFence = bucketFence
        }

        deinit {
            for statement in [head, writeRecord, bucketFence] { sqlite3_finalize(statement) }
            sqlite3_close(handle)
        }
    }

    /// Connections kept for the next reads; a read with none idle opens one.
    private let idle = Mutex<[Connection]>([])
    private let path: String
    /// The most idle connections kept (reads run on the caller's thread: about one per core).
    private static let maximumIdle = 16

    /// A reader of the metadata database at `path`, which must exist (the store has created it).
    init(path: String) {
        self.path = path
    }

    /// The head of `key` in `bucket` and, for an object kept inline, its bytes; nil when there is none.
    func head(bucket: String, key: String) throws -> ObjectHead? {
        try withConnection { try SQLiteRows.fetchOne($0.head, bucket, key, read: SQLiteRows.head(from:)) }
    }

    /// The write record named `name`; nil when there is none.
    func writeRecord(named name: String) throws -> WriteRecord? {
        try withConnection { try SQLiteRows.fetchOne($0.writeRecord, name, read: SQLiteRows.writeRecord(from:)) }
    }

    /// The fenced paths of `bucket`; nil when there is no such bucket.
    func fencedPaths(in bucket: String) throws -> [FencedPath]? {
        let prefixes = try withConnection { try SQLiteRows.fetchAll($0.bucketFence, bucket) { $0.text(0) } }
        guard !prefixes.isEmpty else { return nil }
        return prefixes.compactMap { $0.map { FencedPath(bucket: bucket, prefix: $0) } }
    }

    private func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try idle.withLock { $0.popLast() } ?? Connection(path: path)
        defer {
            idle.withLock { idle in
                if idle.count < Self.maximumIdle { idle.append(connection) }
            }
        }
        return try body(connection)
    }
}
