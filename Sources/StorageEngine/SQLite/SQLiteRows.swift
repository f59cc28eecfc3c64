import Foundation
import GRDB
import PalisadeProtocol
import StorageCore

/// How the metadata types are stored in SQLite rows: maps and segments as JSON text, tokens and
/// sequences by bit pattern.
enum SQLiteRows {
    static func head(from row: Row) -> ObjectHead {
        ObjectHead(
            bucket: row["bucket"],
            key: row["key"],
            versionID: row["version_id"],
            size: row["size"],
            etag: row["etag"],
            lastModified: row["last_modified_ms"],
            commitSequence: UInt64(bitPattern: row["commit_sequence"] as Int64),
            contentHeaders: dictionary(row["content_headers"]),
            userMetadata: dictionary(row["user_metadata"]),
            checksums: dictionary(row["checksums"]),
            segments: segments(row["segments"]),
            fence: (row["fence_lock"] as String?).flatMap(LockName.init(rawValue:)).flatMap { lock in
                token(row["fence_token"]).map { FenceClaim(lock: lock, token: $0) }
            }
        )
    }

    /// The values of an `object` row, in the column order of `SQLiteMetadataTransaction.putHead`.
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

    static func json(_ value: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func segmentsJSON(_ segments: [ObjectHead.Segment]) -> String {
        String(decoding: (try? JSONEncoder().encode(segments)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func segments(_ text: String) -> [ObjectHead.Segment] {
        (try? JSONDecoder().decode([ObjectHead.Segment].self, from: Data(text.utf8))) ?? []
    }

    static func dictionary(_ text: String) -> [String: String] {
        // Most objects have no metadata or checksums of their own: skip the decoder then.
        guard text != "{}" else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}
