import Foundation
import PalisadeProtocol
import StorageCore
import StorageEngine

/// The JSON values of cluster mode's keys (`Protocol/cluster.md`). A head holds neither its bucket
/// nor its key (they are in the etcd key) nor its commit sequence (the key's mod revision).
enum EtcdValues {
    struct Bucket: Codable {
        var createdMs: Int64

        enum CodingKeys: String, CodingKey { case createdMs = "created_ms" }
    }

    /// The fields of a `Head` a listing reports; the others are not decoded.
    struct Listed: Decodable {
        var size: Int64
        var etag: String
        var lastModifiedMs: Int64

        enum CodingKeys: String, CodingKey {
            case size
            case etag
            case lastModifiedMs = "last_modified_ms"
        }
    }

    struct Head: Codable {
        var versionID: String
        var size: Int64
        var etag: String
        var lastModifiedMs: Int64
        var contentHeaders: [String: String]
        var userMetadata: [String: String]
        var checksums: [String: String]
        var segments: [ObjectHead.Segment]
        var fenceLock: String?
        var fenceToken: UInt64?

        enum CodingKeys: String, CodingKey {
            case versionID = "version_id"
            case size
            case etag
            case lastModifiedMs = "last_modified_ms"
            case contentHeaders = "content_headers"
            case userMetadata = "user_metadata"
            case checksums
            case segments
            case fenceLock = "fence_lock"
            case fenceToken = "fence_token"
        }

        init(_ head: ObjectHead) {
            versionID = head.versionID
            size = head.size
            etag = head.etag
            lastModifiedMs = head.lastModified
            contentHeaders = head.contentHeaders
            userMetadata = head.userMetadata
            checksums = head.checksums
            segments = head.segments
            fenceLock = head.fence?.lock.rawValue
            fenceToken = head.fence?.token.rawValue
        }

        func head(bucket: String, key: String, commitSequence: Int64) -> ObjectHead {
            ObjectHead(
                bucket: bucket,
                key: key,
                versionID: versionID,
                size: size,
                etag: etag,
                lastModified: lastModifiedMs,
                commitSequence: UInt64(commitSequence),
                contentHeaders: contentHeaders,
                userMetadata: userMetadata,
                checksums: checksums,
                segments: segments,
                fence: fenceLock.flatMap(LockName.init(rawValue:)).flatMap { lock in
                    fenceToken.map { FenceClaim(lock: lock, token: FencingToken($0)) }
                }
            )
        }
    }

    /// `rb/BLOB`.
    struct RetiredBlob: Codable {
        var retiredMs: Int64

        enum CodingKeys: String, CodingKey { case retiredMs = "retired_ms" }
    }

    struct Upload: Codable {
        var id: String
        var bucket: String
        var key: String
        var initiatedMs: Int64
        var contentHeaders: [String: String]
        var userMetadata: [String: String]
        var checksumAlgorithm: String?
        var checksumType: String?

        enum CodingKeys: String, CodingKey {
            case id = "upload_id"
            case bucket
            case key
            case initiatedMs = "initiated_ms"
            case contentHeaders = "content_headers"
            case userMetadata = "user_metadata"
            case checksumAlgorithm = "checksum_algorithm"
            case checksumType = "checksum_type"
        }

        init(_ upload: MultipartUpload) {
            id = upload.id
            bucket = upload.bucket
            key = upload.key
            initiatedMs = upload.initiated
            contentHeaders = upload.contentHeaders
            userMetadata = upload.userMetadata
            checksumAlgorithm = upload.checksum?.algorithm.rawValue
            checksumType = upload.checksum?.type.rawValue
        }

        var upload: MultipartUpload {
            MultipartUpload(
                id: id,
                bucket: bucket,
                key: key,
                initiated: initiatedMs,
                contentHeaders: contentHeaders,
                userMetadata: userMetadata,
                checksum: MultipartChecksum(storedAlgorithm: checksumAlgorithm, storedType: checksumType)
            )
        }
    }

    struct Part: Codable {
        var number: Int
        var blobID: String
        var size: Int64
        var etag: String
        var lastModifiedMs: Int64
        var fenceToken: UInt64?
        var checksum: String?

        enum CodingKeys: String, CodingKey {
            case number = "part_number"
            case blobID = "blob_id"
            case size
            case etag
            case lastModifiedMs = "last_modified_ms"
            case fenceToken = "fence_token"
            case checksum
        }

        init(_ part: UploadedPart) {
            number = part.number
            blobID = part.blobID
            size = part.size
            etag = part.etag
            lastModifiedMs = part.lastModified
            fenceToken = part.fenceToken?.rawValue
            checksum = part.checksum
        }

        var part: UploadedPart {
            UploadedPart(
                number: number,
                blobID: blobID,
                size: size,
                etag: etag,
                lastModified: lastModifiedMs,
                fenceToken: fenceToken.map(FencingToken.init(rawValue:)),
                checksum: checksum
            )
        }
    }

    /// `wr/NAME`: a write record. Its commit sequence, when it has one, is the key's mod revision
    /// (the record is written by the write's own commit).
    struct Record: Codable {
        var recordedMs: Int64
        var kind: String?
        var bucket: String?
        var key: String?
        var versionID: String?
        var etag: String?
        /// Whether the commit that wrote the record put or removed a head.
        var sequenced: Bool

        enum CodingKeys: String, CodingKey {
            case recordedMs = "recorded_ms"
            case kind
            case bucket
            case key
            case versionID = "version_id"
            case etag
            case sequenced
        }

        init(_ record: WriteRecord, sequenced: Bool) {
            recordedMs = record.recordedAt
            kind = record.committed?.kind.rawValue
            bucket = record.committed?.bucket
            key = record.committed?.key
            versionID = record.committed?.versionID
            etag = record.committed?.etag
            self.sequenced = sequenced && record.committed != nil
        }

        func record(name: String, modRevision: Int64) -> WriteRecord {
            WriteRecord(
                name: name,
                recordedAt: recordedMs,
                committed: kind.flatMap(WriteIntent.Kind.init(rawValue:)).map { kind in
                    CommittedWrite(
                        kind: kind,
                        bucket: bucket ?? "",
                        key: key ?? "",
                        versionID: versionID,
                        etag: etag,
                        commitSequence: sequenced ? UInt64(modRevision) : nil
                    )
                }
            )
        }
    }

    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding these plain structs cannot fail.
        return (try? encoder.encode(value)) ?? Data()
    }

    /// Decodes a value this module wrote; a value it cannot read is a damaged store.
    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws(StorageError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw StorageError(
                .internalError,
                "the metadata store holds a value the server cannot read",
                detail: "an etcd value is not a \(type): \(error)"
            )
        }
    }
}
