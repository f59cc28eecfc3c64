import Foundation
import GRDB
import GRDBSQLite
import PalisadeProtocol
import StorageCore

/// How the metadata types are stored in SQLite rows: maps and segments as JSON text, tokens and
/// sequences by bit pattern.
enum SQLiteRows {
    /// The columns of an object's head, in the order ``head(from:)`` reads them and
    /// ``values(of:sequence:)`` gives them.
    static let headColumns = """
        bucket, key, version_id, size, etag, last_modified_ms, commit_sequence, content_headers, user_metadata, \
        checksums, segments, fence_lock, fence_token
        """

    /// The statement that reads a head and, for an object kept inline, its bytes (``head(from:)``).
    static let headQuery = """
        SELECT \(headColumns), inline_data.data FROM object
        LEFT JOIN inline_data ON inline_data.version = object.version_id
        WHERE bucket = ? AND key = ?
        """

    /// The statement that reads a write record (``writeRecord(from:)``).
    static let writeRecordQuery = """
        SELECT name, recorded_ms, kind, bucket, key, version_id, etag, commit_sequence FROM write_record
        WHERE name = ?
        """

    /// The statement that reads whether a bucket exists and its fenced prefixes: no row when it
    /// does not exist, one null prefix when it has none.
    static let bucketFenceQuery = """
        SELECT fenced_path.prefix FROM bucket LEFT JOIN fenced_path ON fenced_path.bucket = bucket.name
        WHERE bucket.name = ?
        """

    /// SQLite copies a value bound with this destructor (`SQLITE_TRANSIENT`, a macro Swift does not
    /// import).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Runs `statement` with `arguments` bound as text, reads its first row with `read`, and resets
    /// it — through SQLite's C API: GRDB would box every argument and copy every column first.
    static func fetchOne<T>(
        _ statement: OpaquePointer,
        _ arguments: String...,
        read: (SQLiteColumns) -> T
    ) throws -> T? {
        try run(statement, arguments) { try step(statement) ? read(SQLiteColumns(statement: statement)) : nil }
    }

    /// Runs `statement` with `arguments` bound as text and reads every row with `read`, as
    /// ``fetchOne(_:_:read:)`` reads the first.
    static func fetchAll<T>(
        _ statement: OpaquePointer,
        _ arguments: String...,
        read: (SQLiteColumns) -> T
    ) throws -> [T] {
        try run(statement, arguments) {
            var rows: [T] = []
            while try step(statement) { rows.append(read(SQLiteColumns(statement: statement))) }
            return rows
        }
    }

    /// Binds `arguments` to `statement`, runs `body`, and resets the statement.
    private static func run<T>(_ statement: OpaquePointer, _ arguments: [String], _ body: () throws -> T) rethrows -> T
    {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, argument) in arguments.enumerated() {
            sqlite3_bind_text(statement, CInt(index + 1), argument, -1, transient)
        }
        return try body()
    }

    /// Steps `statement`: true at a row, false when done.
    private static func step(_ statement: OpaquePointer) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code:
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code),
                message: String(cString: sqlite3_errmsg(sqlite3_db_handle(statement)))
            )
        }
    }

    /// A row of ``headQuery``: ``headColumns`` and the inline bytes after them (null for a blob's
    /// object).
    static func head(from row: SQLiteColumns) -> ObjectHead {
        ObjectHead(
            bucket: row.text(0) ?? "",
            key: row.text(1) ?? "",
            versionID: row.text(2) ?? "",
            size: row.integer(3) ?? 0,
            etag: row.text(4) ?? "",
            lastModified: row.integer(5) ?? 0,
            commitSequence: UInt64(bitPattern: row.integer(6) ?? 0),
            contentHeaders: dictionary(row.text(7) ?? "{}"),
            userMetadata: dictionary(row.text(8) ?? "{}"),
            checksums: dictionary(row.text(9) ?? "{}"),
            segments: segments(row.text(10) ?? "[]"),
            fence: row.text(11).flatMap(LockName.init(rawValue:)).flatMap { lock in
                token(row.integer(12)).map { FenceClaim(lock: lock, token: $0) }
            },
            inlineData: row.bytes(13)
        )
    }

    /// The values of an `object` row, in the order of ``headColumns``.
    static func values(of head: ObjectHead, sequence: UInt64) -> StatementArguments {
        [
            head.bucket, head.key, head.versionID, head.size, head.etag, head.lastModified,
            Int64(bitPattern: sequence), json(head.contentHeaders), json(head.userMetadata), json(head.checksums),
            segmentsJSON(head.segments), head.fence?.lock.rawValue, head.fence.map { value(of: $0.token) },
        ]
    }

    /// A listing's row: `key, size, etag, last_modified_ms`, in that order.
    static func listed(from row: Row) -> ListedObject {
        ListedObject(key: row[0], size: row[1], etag: row[2], lastModified: row[3])
    }

    static func upload(from row: Row) -> MultipartUpload {
        MultipartUpload(
            id: row["upload_id"],
            bucket: row["bucket"],
            key: row["key"],
            initiated: row["initiated_ms"],
            contentHeaders: dictionary(row["content_headers"]),
            userMetadata: dictionary(row["user_metadata"]),
            checksum: MultipartChecksum(storedAlgorithm: row["checksum_algorithm"], storedType: row["checksum_type"])
        )
    }

    static func part(from row: Row) -> UploadedPart {
        UploadedPart(
            number: row["part_number"],
            blobID: row["blob_id"],
            size: row["size"],
            etag: row["etag"],
            lastModified: row["last_modified_ms"],
            fenceToken: token(row["fence_token"]),
            checksum: row["checksum"]
        )
    }

    /// A row of ``writeRecordQuery``.
    static func writeRecord(from row: SQLiteColumns) -> WriteRecord {
        let kind = row.text(2).flatMap(WriteIntent.Kind.init(rawValue:))
        return WriteRecord(
            name: row.text(0) ?? "",
            recordedAt: row.integer(1) ?? 0,
            committed: kind.map { kind in
                CommittedWrite(
                    kind: kind,
                    bucket: row.text(3) ?? "",
                    key: row.text(4) ?? "",
                    versionID: row.text(5),
                    etag: row.text(6),
                    commitSequence: row.integer(7).map { UInt64(bitPattern: $0) }
                )
            }
        )
    }

    static func token(_ value: Int64?) -> FencingToken? {
        value.map { FencingToken(rawValue: UInt64(bitPattern: $0)) }
    }

    static func value(of token: FencingToken) -> Int64 { Int64(bitPattern: token.rawValue) }

    static func json(_ value: [String: String]) -> String { StoredJSON.object(value) }

    static func segmentsJSON(_ segments: [ObjectHead.Segment]) -> String { StoredJSON.segments(segments) }

    /// Read by ``StoredJSON``; by `JSONDecoder` when it holds a shape StoredJSON does not write.
    static func segments(_ text: String) -> [ObjectHead.Segment] {
        StoredJSON.parseSegments(text)
            ?? (try? JSONDecoder().decode([ObjectHead.Segment].self, from: Data(text.utf8))) ?? []
    }

    static func dictionary(_ text: String) -> [String: String] {
        StoredJSON.parseObject(text) ?? (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}

/// The row a statement stands on, read by column position through SQLite's C API.
struct SQLiteColumns {
    let statement: OpaquePointer

    /// The column's text; nil when it is null.
    func text(_ column: CInt) -> String? {
        guard let bytes = sqlite3_column_text(statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// The column's integer; nil when it is null.
    func integer(_ column: CInt) -> Int64? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, column)
    }

    /// The column's bytes; nil when it is null (an empty blob is empty, not nil).
    func bytes(_ column: CInt) -> [UInt8]? {
        guard sqlite3_column_type(statement, column) != SQLITE_NULL else { return nil }
        let start = sqlite3_column_blob(statement, column)
        return [UInt8](UnsafeRawBufferPointer(start: start, count: Int(sqlite3_column_bytes(statement, column))))
    }
}
