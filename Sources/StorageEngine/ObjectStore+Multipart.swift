import Crypto
public import NIOCore
import PalisadeIDs
import PalisadeSupport
public import StorageCore

extension ObjectStore {
    /// Starts a multipart upload of `key`; the object gets `contentHeaders`, `userMetadata` and,
    /// made from its parts', a `checksum`. On a fenced path the upload needs a valid fencing
    /// claim, checked like any write's.
    public func createMultipartUpload(
        bucket: String,
        key: String,
        contentHeaders: [String: String],
        userMetadata: [String: String],
        checksum: MultipartChecksum? = nil,
        fence: FenceClaim? = nil
    ) async throws -> MultipartUpload {
        try StorageError.requireValidKey(key)
        try await precheck(fence, bucket: bucket, key: key)
        let upload = MultipartUpload(
            id: RandomUUID.hex(),
            bucket: bucket,
            key: key,
            initiated: Self.now(),
            contentHeaders: contentHeaders,
            userMetadata: userMetadata,
            checksum: checksum
        )
        await beforeCommit?(bucket, key)
        _ = try await metadata.commit(TransactionScope(bucket: bucket, key: key, fence: fence), freesSpace: false) {
            try CommitPoint.createUpload(upload, fence: fence, in: $0)
        }
        return upload
    }

    /// Uploads part `number` (1–10 000) of an upload; a later upload of the same number replaces it.
    /// When the upload has a checksum algorithm, the part's checksum in it is computed (and
    /// checked, when sent) and kept; a checksum of another algorithm is refused.
    /// - Parameter request: the part's expected digests (its bucket and key name the upload's object).
    /// - Returns: the part, and the algorithm of its checksum.
    public func uploadPart<Body: AsyncSequence>(
        uploadID: String,
        number: Int,
        request: PutRequest,
        body: Body
    ) async throws
        -> (part: UploadedPart, checksumAlgorithm: ChecksumAlgorithm?) where Body.Element == ByteBuffer
    {
        guard MultipartRules.partNumbers.contains(number) else {
            throw StorageError(.invalidArgument, "part number must be an integer between 1 and 10000")
        }
        let upload = try await metadata.read(TransactionScope(bucket: request.bucket, uploadID: uploadID)) {
            try $0.upload(uploadID)
        }
        guard let upload, upload.bucket == request.bucket, upload.key == request.key else {
            throw StorageError.noSuchUpload(uploadID)
        }
        try await precheck(request.fence, bucket: request.bucket, key: request.key)
        var request = request
        if let algorithm = upload.checksum?.algorithm {
            let sent = Set(request.expectedChecksums.keys).union(request.checksumsToCompute)
            if let other = sent.first(where: { $0 != algorithm }) {
                throw StorageError(
                    .invalidRequest,
                    "Checksum Type mismatch occurred, expected checksum Type: \(algorithm.rawValue), actual checksum Type: \(other.rawValue)"
                )
            }
            request.checksumsToCompute.insert(algorithm)
        }
        let (blobID, digests) = try await writeBlob(request, body: body)
        let part = UploadedPart(
            number: number,
            blobID: blobID,
            size: digests.size,
            etag: digests.md5Hex(),
            lastModified: Self.now(),
            fenceToken: request.fence?.token,
            checksum: upload.checksum.flatMap { digests.checksum($0.algorithm) }
        )
        do {
            await beforeCommit?(request.bucket, request.key)
            let scope = TransactionScope(
                bucket: request.bucket,
                key: request.key,
                fence: request.fence,
                uploadID: uploadID
            )
            let commit = try await metadata.commit(scope, freesSpace: false) { [request] in
                try CommitPoint.putPart(
                    part,
                    uploadID: uploadID,
                    bucket: request.bucket,
                    key: request.key,
                    fence: request.fence,
                    in: $0
                )
            }
            if let replaced = commit.value { await blobs.remove(replaced) }
            return (part, upload.checksum?.algorithm)
        } catch {
            await blobs.remove(blobID)
            throw error
        }
    }

    /// Ends an upload without an object and removes its parts.
    public func abortMultipartUpload(
        uploadID: String,
        bucket: String,
        key: String,
        fence: FenceClaim? = nil
    ) async throws {
        try await precheck(fence, bucket: bucket, key: key)
        await beforeCommit?(bucket, key)
        let scope = TransactionScope(bucket: bucket, key: key, fence: fence, uploadID: uploadID)
        let commit = try await metadata.commit(scope, freesSpace: true) {
            try CommitPoint.abortUpload(uploadID, bucket: bucket, key: key, fence: fence, in: $0)
        }
        for blob in commit.value { await blobs.remove(blob) }
    }

    /// Completes an upload: the listed parts become the object's bytes (no copy), in one commit
    /// that also checks `preconditions` and what the request `claims` of the object. The object's
    /// checksum, when the upload has one, is made from its parts'. Parts that were uploaded but
    /// not listed are removed. The completion is recorded under ``completionName(of:)`` (and
    /// `writeName`, when given).
    /// - Throws: `NoSuchUpload`, `InvalidPart`, `InvalidPartOrder`, `EntityTooSmall`,
    ///   `PreconditionFailed`, `InvalidRequest` and `BadDigest` (claims).
    public func completeMultipartUpload(
        uploadID: String,
        bucket: String,
        key: String,
        parts: [RequestedPart],
        claims: CompletionClaims = .init(),
        preconditions: WritePreconditions = .init(),
        fence: FenceClaim? = nil,
        writeName: String? = nil
    ) async throws -> ObjectHead {
        let now = Self.now()
        let observed = try await admit(fence, bucket: bucket, key: key, preconditions: preconditions)
        let intent = WriteIntent(
            kind: .put,
            preconditions: preconditions,
            observedSequence: observed,
            fence: fence,
            names: [Self.completionName(of: uploadID)] + (writeName.map { [$0] } ?? []),
            recordedAt: now
        )
        await beforeCommit?(bucket, key)
        try Self.requireTimely(intent)
        let versionID = RandomUUID.hex()
        let scope = TransactionScope(
            bucket: bucket,
            key: key,
            fence: fence,
            uploadID: uploadID,
            writeNames: intent.names
        )
        let commit = try await metadata.commit(scope, freesSpace: false) {
            try CommitPoint.completeUpload(
                uploadID,
                bucket: bucket,
                key: key,
                requested: parts,
                intent: intent,
                makeHead: { upload, assembly in
                    let sizes = assembly.segments.map(\.size)
                    let checksum = upload.checksum.flatMap {
                        $0.objectValue(partChecksums: assembly.partChecksums, partSizes: sizes)
                    }
                    if let rejection = MultipartRules.check(
                        claims,
                        checksum: upload.checksum,
                        computed: checksum,
                        size: assembly.size
                    ) {
                        throw StorageError(rejection)
                    }
                    return ObjectHead(
                        bucket: bucket,
                        key: key,
                        versionID: versionID,
                        size: assembly.size,
                        etag: Self.multipartETag(assembly.partETags),
                        lastModified: now,
                        commitSequence: 0,
                        contentHeaders: upload.contentHeaders,
                        userMetadata: upload.userMetadata,
                        checksums: upload.checksum.flatMap { algorithm in
                            checksum.map { [algorithm.algorithm.rawValue: $0] }
                        } ?? [:],
                        segments: assembly.segments
                    )
                },
                in: $0
            )
        }
        let (completed, replaced, unused) = commit.value
        if let replaced { await retire(replaced) }
        for blob in unused { await blobs.remove(blob) }
        var committed = completed
        committed.commitSequence = commit.sequence ?? 0
        return committed
    }

    /// The parts of an upload after part `marker`, at most `maxParts`, and whether more follow.
    public func listParts(
        uploadID: String,
        bucket: String,
        key: String,
        after marker: Int,
        maxParts: Int
    ) async throws
        -> (upload: MultipartUpload, parts: [UploadedPart], isTruncated: Bool)
    {
        let upload = try await metadata.read(TransactionScope(bucket: bucket, uploadID: uploadID)) {
            try $0.upload(uploadID)
        }
        guard let upload, upload.bucket == bucket, upload.key == key else {
            throw StorageError.noSuchUpload(uploadID)
        }
        let parts = try await metadata.parts(of: uploadID, after: marker, limit: maxParts + 1)
        return (upload, Array(parts.prefix(maxParts)), parts.count > maxParts)
    }

    /// Uploads in progress in `bucket` under `prefix`, by key then initiation.
    public func listMultipartUploads(
        bucket: String,
        prefix: String,
        maxUploads: Int
    ) async throws
        -> (uploads: [MultipartUpload], isTruncated: Bool)
    {
        try await requireBucket(bucket)
        let uploads = try await metadata.uploads(bucket: bucket, prefix: prefix, limit: maxUploads + 1)
        return (Array(uploads.prefix(maxUploads)), uploads.count > maxUploads)
    }

    /// S3's multipart ETag: MD5 of the parts' binary MD5s, then `-` and the number of parts.
    static func multipartETag(_ partETags: [String]) -> String {
        var md5 = Insecure.MD5()
        for etag in partETags {
            let bytes = stride(from: 0, to: etag.count, by: 2).compactMap {
                UInt8(etag.dropFirst($0).prefix(2), radix: 16)
            }
            md5.update(data: bytes)
        }
        return md5.finalize().withUnsafeBytes(Hex.lowercase) + "-\(partETags.count)"
    }
}
