import Foundation
import GRDB
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

    /// A row of ``headColumns`` and the inline bytes after them (null for a blob's object), read
    /// by position (by name, GRDB looks each one up).
    static func head(from row: Row) -> ObjectHead {
        ObjectHead(
            bucket: row[0],
            key: row[1],
            versionID: row[2],
            size: row[3],
            etag: row[4],
            lastModified: row[5],
            commitSequence: UInt64(bitPattern: row[6] as Int64),
            contentHeaders: dictionary(row[7]),
            userMetadata: dictionary(row[8]),
            checksums: dictionary(row[9]),
            segments: segments(row[10]),
            fence: (row[11] as String?).flatMap(LockName.init(rawValue:)).flatMap { lock in
                token(row[12]).map { FenceClaim(lock: lock, token: $0) }
            },
            inlineData: (row[13] as Data?).map { [UInt8]($0) }
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

    static func writeRecord(from row: Row) -> WriteRecord {
        let kind = (row["kind"] as String?).flatMap(WriteIntent.Kind.init(rawValue:))
        return WriteRecord(
            name: row["name"],
            recordedAt: row["recorded_ms"],
            committed: kind.map { kind in
                CommittedWrite(
                    kind: kind,
                    bucket: row["bucket"],
                    key: row["key"],
                    versionID: row["version_id"],
                    etag: row["etag"],
                    commitSequence: (row["commit_sequence"] as Int64?).map { UInt64(bitPattern: $0) }
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
