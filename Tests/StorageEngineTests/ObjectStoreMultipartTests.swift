import Crypto
import Foundation
import NIOCore
import PalisadeTestSupport
import StorageCore
import StorageEngine
import Testing

/// `count` bytes of a repeated letter.
func bytes(_ letter: Character, _ count: Int) -> String { String(repeating: letter, count: count) }

extension ObjectStore {
    /// A new upload of `key` in "bucket", with no headers or metadata.
    func newUpload(_ key: String = "k", checksum: MultipartChecksum? = nil) async throws -> MultipartUpload {
        try await createMultipartUpload(
            bucket: "bucket",
            key: key,
            contentHeaders: [:],
            userMetadata: [:],
            checksum: checksum
        )
    }

    func part(
        _ upload: MultipartUpload,
        _ number: Int,
        _ text: String,
        request: PutRequest? = nil
    ) async throws -> UploadedPart {
        try await uploadPart(
            uploadID: upload.id,
            number: number,
            request: request ?? PutRequest(bucket: upload.bucket, key: upload.key),
            body: body(text)
        ).part
    }
}

@Suite("ObjectStore: multipart uploads")
struct ObjectStoreMultipartTests {
    let big = Int(MultipartRules.minimumPartSize)

    @Test(
        "deleting a bucket whose only content is uploads in progress aborts them (as S3) and removes their parts",
        arguments: MetadataKind.allCases
    )
    func deleteBucketAbortsUploads(kind: MetadataKind) async throws {
        let (store, directory) = try await makeStore(kind)
        for index in 0..<20 {  // more than one commit's worth
            let upload = try await store.newUpload("k\(index)")
            _ = try await store.part(upload, 1, "part \(index)")
        }
        try await store.put("kept", "an object")
        #expect(await storageCode { try await store.deleteBucket("bucket") } == .bucketNotEmpty)
        #expect(try await store.listMultipartUploads(bucket: "bucket", prefix: "", maxUploads: 100).uploads.count == 20)
        try await store.delete(bucket: "bucket", key: "kept")
        try await store.deleteBucket("bucket")
        #expect(await storageCode { try await store.requireBucket("bucket") } == .noSuchBucket)
        try await sweepRetiredBlobs(kind, directory: directory)
        #expect(try blobCount(directory) == 0, "the parts' blobs are removed with their uploads")
        try await store.createBucket("bucket")
        #expect(try await store.listMultipartUploads(bucket: "bucket", prefix: "", maxUploads: 100).uploads.isEmpty)
    }

    @Test(
        "parts complete into one object without copying; the ETag is the MD5 of the part MD5s, -N",
        arguments: MetadataKind.allCases
    )
    func complete(kind: MetadataKind) async throws {
        let (store, directory) = try await makeStore(kind)
        let upload = try await store.createMultipartUpload(
            bucket: "bucket",
            key: "k",
            contentHeaders: ["content-type": "text/plain"],
            userMetadata: ["a": "1"]
        )
        let first = try await store.part(upload, 1, bytes("a", big))
        let second = try await store.part(upload, 2, "tail")
        let head = try await store.completeMultipartUpload(
            uploadID: upload.id,
            bucket: "bucket",
            key: "k",
            parts: [RequestedPart(number: 1, etag: first.etag), RequestedPart(number: 2, etag: second.etag)]
        )
        let expected = Insecure.MD5.hash(
            data: Array(Insecure.MD5.hash(data: Array(bytes("a", big).utf8)))
                + Array(Insecure.MD5.hash(data: Array("tail".utf8)))
        )
        #expect(head.etag == expected.map { String(format: "%02x", $0) }.joined() + "-2")
        #expect(head.segments.map(\.blobID) == [first.blobID, second.blobID])
        #expect(head.contentHeaders == ["content-type": "text/plain"] && head.userMetadata == ["a": "1"])
        #expect(try await store.read("k") == bytes("a", big) + "tail")
        #expect(try blobCount(directory) == 2, "completing reuses the part files")
        let reader = try await store.open(bucket: "bucket", key: "k")
        #expect(reader.partRange(2) == Int64(big)..<Int64(big + 4))
        #expect(try await text(of: reader.chunks(Int64(big - 2)..<Int64(big + 2))) == "aata")
        await reader.close()
    }

    @Test(
        "a full-object CRC of a multipart object, combined from its parts' CRCs, is the CRC of its bytes",
        arguments: [ChecksumAlgorithm.crc32, .crc32c, .crc64nvme]
    )
    func fullObjectChecksum(algorithm: ChecksumAlgorithm) async throws {
        // One store: the combination is the store's own arithmetic, and CRCs of 10 MiB are dear in
        // a debug build (the part checksums' storage is tested on both stores below).
        let (store, _) = try await makeStore(.sqlite)
        // Two parts of over 5 MiB with different repeating contents, and a tail.
        let pieces = [
            String(repeating: "abcdefghijklmnopqrstuvwxyz0123456789!", count: big / 30),
            String(repeating: "The quick brown fox jumps over the dog.\n", count: big / 30), "!",
        ]
        let whole = try await store.put(
            PutRequest(bucket: "bucket", key: "single", checksumsToCompute: [algorithm]),
            body: body(pieces.joined())
        )
        let upload = try await store.newUpload(checksum: MultipartChecksum(algorithm: algorithm, type: .fullObject))
        var requested: [RequestedPart] = []
        for (index, piece) in pieces.enumerated() {
            let part = try await store.part(upload, index + 1, piece)
            requested.append(RequestedPart(number: index + 1, etag: part.etag))
        }
        let expected = try #require(whole.checksums[algorithm.rawValue])
        let wrong = await storageCode {
            _ = try await store.completeMultipartUpload(
                uploadID: upload.id,
                bucket: "bucket",
                key: "k",
                parts: requested,
                claims: CompletionClaims(checksum: (algorithm, "AAAAAA=="))
            )
        }
        #expect(wrong == .badDigest, "a claimed checksum that the parts do not make is refused")
        let head = try await store.completeMultipartUpload(
            uploadID: upload.id,
            bucket: "bucket",
            key: "k",
            parts: requested,
            claims: CompletionClaims(checksumType: .fullObject, checksum: (algorithm, expected))
        )
        #expect(head.checksums == [algorithm.rawValue: expected])
    }

    @Test(
        "a composite checksum is the checksum of the parts' checksums, -N; each part needs its checksum listed",
        arguments: MetadataKind.allCases
    )
    func compositeChecksum(kind: MetadataKind) async throws {
        let (store, _) = try await makeStore(kind)
        let upload = try await store.newUpload(checksum: MultipartChecksum(algorithm: .sha256, type: .composite))
        let pieces = [bytes("p", big), "end"]
        var requested: [RequestedPart] = []
        for (index, piece) in pieces.enumerated() {
            let part = try await store.part(upload, index + 1, piece)
            let digest = Data(SHA256.hash(data: Array(piece.utf8))).base64EncodedString()
            #expect(part.checksum == digest, "each part is checksummed with the upload's algorithm")
            requested.append(RequestedPart(number: index + 1, etag: part.etag, checksum: part.checksum))
        }
        let mismatched = await storageCode {
            _ = try await store.uploadPart(
                uploadID: upload.id,
                number: 3,
                request: PutRequest(bucket: "bucket", key: "k", checksumsToCompute: [.crc32]),
                body: body("x")
            )
        }
        #expect(mismatched == .invalidRequest, "a part checksummed with another algorithm is refused")
        var unlisted = requested
        unlisted[1].checksum = nil
        let missing = await storageCode {
            _ = try await store.completeMultipartUpload(
                uploadID: upload.id,
                bucket: "bucket",
                key: "k",
                parts: unlisted
            )
        }
        #expect(missing == .invalidRequest)
        var altered = requested
        altered[0].checksum = requested[1].checksum
        let wrongPart = await storageCode {
            _ = try await store.completeMultipartUpload(uploadID: upload.id, bucket: "bucket", key: "k", parts: altered)
        }
        #expect(wrongPart == .invalidPart)
        let head = try await store.completeMultipartUpload(
            uploadID: upload.id,
            bucket: "bucket",
            key: "k",
            parts: requested,
            claims: CompletionClaims(checksumType: .composite, objectSize: Int64(big + 3))
        )
        let partDigests = pieces.flatMap { Array(SHA256.hash(data: Array($0.utf8))) }
        #expect(head.checksums == ["sha256": Data(SHA256.hash(data: partDigests)).base64EncodedString() + "-2"])
    }

    @Test(
        "race 6: the last upload of a part number wins; completing with the older ETag is InvalidPart",
        arguments: MetadataKind.allCases
    )
    func samePartTwice(kind: MetadataKind) async throws {
        let (store, other, directory) = try await makeGateways(kind)
        let upload = try await store.newUpload()
        let older = try await store.part(upload, 1, "first upload")
        let newer = try await other.part(upload, 1, "second upload")
        let listed = try await store.listParts(uploadID: upload.id, bucket: "bucket", key: "k", after: 0, maxParts: 10)
        #expect(listed.parts.map(\.etag) == [newer.etag])
        #expect(try blobCount(directory) == 1, "the replaced part's blob is removed")
        let stale = await storageCode {
            _ = try await store.completeMultipartUpload(
                uploadID: upload.id,
                bucket: "bucket",
                key: "k",
                parts: [RequestedPart(number: 1, etag: older.etag)]
            )
        }
        #expect(stale == .invalidPart)
        _ = try await other.completeMultipartUpload(
            uploadID: upload.id,
            bucket: "bucket",
            key: "k",
            parts: [RequestedPart(number: 1, etag: newer.etag)]
        )
        #expect(try await store.read("k") == "second upload")
    }

    @Test(
        "a refused completion changes nothing; parts left out of a completion and aborted uploads leave no files",
        arguments: MetadataKind.allCases
    )
    func refusalsAndCleanup(kind: MetadataKind) async throws {
        let (store, directory) = try await makeStore(kind)
        let upload = try await store.newUpload()
        let small = try await store.part(upload, 1, "small")
        let last = try await store.part(upload, 2, "last")
        let unused = try await store.part(upload, 3, "never listed")
        let tooSmall = await storageCode {
            _ = try await store.completeMultipartUpload(
                uploadID: upload.id,
                bucket: "bucket",
                key: "k",
                parts: [RequestedPart(number: 1, etag: small.etag), RequestedPart(number: 2, etag: last.etag)]
            )
        }
        #expect(tooSmall == .entityTooSmall)
        #expect(await storageCode { _ = try await store.head(bucket: "bucket", key: "k") } == .noSuchKey)
        _ = try await store.completeMultipartUpload(
            uploadID: upload.id,
            bucket: "bucket",
            key: "k",
            parts: [RequestedPart(number: 2, etag: last.etag)]
        )
        #expect(try blobCount(directory) == 1, "part \(unused.number), uploaded but not listed, is removed")
        #expect(await storageCode { _ = try await store.part(upload, 4, "late") } == .noSuchUpload)

        let aborted = try await store.newUpload("j")
        _ = try await store.part(aborted, 1, "x")
        try await store.abortMultipartUpload(uploadID: aborted.id, bucket: "bucket", key: "j")
        #expect(try blobCount(directory) == 1)
        #expect(try await store.listMultipartUploads(bucket: "bucket", prefix: "", maxUploads: 10).uploads.isEmpty)
    }

    @Test("a read of a multipart object stays whole while the key is overwritten", arguments: MetadataKind.allCases)
    func snapshotOfMultipartObject(kind: MetadataKind) async throws {
        let (store, directory) = try await makeStore(kind, blobsOnly: true)
        let upload = try await store.newUpload()
        let one = try await store.part(upload, 1, bytes("x", big))
        let two = try await store.part(upload, 2, bytes("y", 1000))
        _ = try await store.completeMultipartUpload(
            uploadID: upload.id,
            bucket: "bucket",
            key: "k",
            parts: [RequestedPart(number: 1, etag: one.etag), RequestedPart(number: 2, etag: two.etag)]
        )
        let reader = try await store.open(bucket: "bucket", key: "k")
        try await store.put("k", "replacement")
        #expect(try await text(of: reader.chunks(0..<reader.head.size)) == bytes("x", big) + bytes("y", 1000))
        await reader.close()
        try await sweepRetiredBlobs(kind, directory: directory)
        #expect(try blobCount(directory) == 1)
    }
}
