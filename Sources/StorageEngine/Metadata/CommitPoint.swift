import PalisadeProtocol
import StorageCore

/// Every write's commit point, as one step of a ``MetadataTransaction``: the write reads what it
/// changes, ``CommitRules`` decide (fencing first, then preconditions), and only an accepted write
/// changes anything — recording its fencing token in the same step.
enum CommitPoint {
    static func createBucket(_ name: String, createdAt: Int64, in transaction: any MetadataTransaction) throws {
        if try transaction.bucketExists(name) {
            throw StorageError(.bucketAlreadyOwnedByYou, "the bucket '\(name)' exists and is yours")
        }
        try transaction.insertBucket(name, createdAt: createdAt)
    }

    /// Deletes a bucket that holds no object, ending its uploads in progress first, as S3 does
    /// (no fencing check: nothing is overwritten) — at most `limit` of them, so that a commit stays
    /// small; the bucket itself goes in the commit that ends the last.
    /// - Returns: the blobs of the ended uploads' parts, and whether the bucket is gone (false:
    ///   uploads remain, commit again).
    static func deleteBucket(
        _ name: String,
        endingUploadsUpTo limit: Int,
        in transaction: any MetadataTransaction
    ) throws -> (blobs: [String], deleted: Bool) {
        guard try transaction.bucketExists(name) else { throw StorageError.noSuchBucket(name) }
        if try transaction.bucketHasObjects(name) {
            throw StorageError(.bucketNotEmpty, "the bucket '\(name)' is not empty")
        }
        let uploads = try transaction.uploads(in: name, limit: limit + 1)
        var blobs: [String] = []
        for upload in uploads.prefix(limit) {
            blobs += try transaction.parts(of: upload.id).map(\.blobID)
            try transaction.removeUpload(upload.id)
        }
        guard uploads.count <= limit else { return (blobs, false) }
        try transaction.removeBucket(name)
        return (blobs, true)
    }

    /// Makes `head` current. - Returns: the version it replaced.
    static func put(
        _ head: ObjectHead,
        intent: WriteIntent,
        in transaction: any MetadataTransaction
    ) throws -> ObjectHead? {
        guard try transaction.bucketExists(head.bucket) else { throw StorageError.noSuchBucket(head.bucket) }
        let current = try transaction.head(bucket: head.bucket, key: head.key)
        try check(intent, current: current, bucket: head.bucket, key: head.key, in: transaction)
        var committed = head
        committed.fence = intent.fence
        try transaction.putHead(committed)
        try record(
            intent,
            CommittedWrite(kind: .put, bucket: head.bucket, key: head.key, versionID: head.versionID, etag: head.etag),
            in: transaction
        )
        return current
    }

    /// Removes the current version; an absent key changes nothing. - Returns: the removed version.
    static func delete(
        bucket: String,
        key: String,
        intent: WriteIntent,
        in transaction: any MetadataTransaction
    ) throws -> ObjectHead? {
        guard try transaction.bucketExists(bucket) else { throw StorageError.noSuchBucket(bucket) }
        let current = try transaction.head(bucket: bucket, key: key)
        try check(intent, current: current, bucket: bucket, key: key, in: transaction)
        if current != nil { try transaction.removeHead(bucket: bucket, key: key) }
        try record(intent, CommittedWrite(kind: .delete, bucket: bucket, key: key), in: transaction)
        return current
    }

    static func createUpload(
        _ upload: MultipartUpload,
        fence: FenceClaim?,
        in transaction: any MetadataTransaction
    ) throws {
        guard try transaction.bucketExists(upload.bucket) else { throw StorageError.noSuchBucket(upload.bucket) }
        let intent = WriteIntent(kind: .put, fence: fence)
        try check(intent, current: nil, bucket: upload.bucket, key: upload.key, in: transaction)
        try transaction.insertUpload(upload)
    }

    /// Stores a part (the last upload of a part number wins, by commit order).
    /// - Returns: the blob of the part it replaced.
    static func putPart(
        _ part: UploadedPart,
        uploadID: String,
        bucket: String,
        key: String,
        fence: FenceClaim?,
        in transaction: any MetadataTransaction
    ) throws -> String? {
        _ = try requireUpload(uploadID, bucket: bucket, key: key, in: transaction)
        try check(WriteIntent(kind: .put, fence: fence), current: nil, bucket: bucket, key: key, in: transaction)
        let replaced = try transaction.parts(of: uploadID).first { $0.number == part.number }
        try transaction.putPart(part, uploadID: uploadID)
        return replaced?.blobID
    }

    /// Ends an upload without an object. - Returns: the blobs of its parts.
    static func abortUpload(
        _ uploadID: String,
        bucket: String,
        key: String,
        fence: FenceClaim?,
        in transaction: any MetadataTransaction
    ) throws -> [String] {
        _ = try requireUpload(uploadID, bucket: bucket, key: key, in: transaction)
        try check(WriteIntent(kind: .delete, fence: fence), current: nil, bucket: bucket, key: key, in: transaction)
        let blobs = try transaction.parts(of: uploadID).map(\.blobID)
        try transaction.removeUpload(uploadID)
        return blobs
    }

    /// Completes an upload into an object: the parts are checked by ``MultipartRules``, the object
    /// is put as any write, the upload ends.
    /// - Returns: the new head, the version it replaced, and the blobs of parts left out.
    static func completeUpload(
        _ uploadID: String,
        bucket: String,
        key: String,
        requested: [RequestedPart],
        intent: WriteIntent,
        makeHead: (MultipartUpload, MultipartRules.Assembly) throws -> ObjectHead,
        in transaction: any MetadataTransaction
    ) throws -> (head: ObjectHead, replaced: ObjectHead?, unused: [String]) {
        let upload = try requireUpload(uploadID, bucket: bucket, key: key, in: transaction)
        let uploaded = try transaction.parts(of: uploadID)
        let assembly: MultipartRules.Assembly
        switch MultipartRules.assemble(requested: requested, uploaded: uploaded, checksum: upload.checksum) {
        case .success(let value): assembly = value
        case .failure(let rejection): throw StorageError(rejection)
        }
        if let claim = intent.fence, assembly.lowestPartToken.map({ $0 < claim.token }) ?? true {
            // A part uploaded under an older grant (or without one) never becomes part of a fenced object.
            throw StorageError(
                CommitRejection.staleFencingToken(
                    presented: assembly.lowestPartToken ?? FencingToken(rawValue: 0),
                    highest: claim.token
                )
            )
        }
        var head = try makeHead(upload, assembly)
        let replaced = try put(head, intent: intent, in: transaction)
        head.fence = intent.fence
        try transaction.removeUpload(uploadID)
        let used = Set(assembly.segments.map(\.blobID))
        return (head, replaced, uploaded.map(\.blobID).filter { !used.contains($0) })
    }

    /// The record of the write named `name`; when there is none, the name is declared abandoned
    /// in this commit, so no write under it commits after — the answer "not committed" stays true.
    static func settle(
        writeNamed name: String,
        at time: Int64,
        in transaction: any MetadataTransaction
    ) throws
        -> WriteRecord
    {
        if let record = try transaction.writeRecord(name) { return record }
        let abandoned = WriteRecord(name: name, recordedAt: time, committed: nil)
        try transaction.putWriteRecord(abandoned)
        return abandoned
    }

    /// Records a committed write under each of its names.
    private static func record(
        _ intent: WriteIntent,
        _ committed: CommittedWrite,
        in transaction: any MetadataTransaction
    ) throws {
        for name in intent.names {
            try transaction.putWriteRecord(WriteRecord(name: name, recordedAt: intent.recordedAt, committed: committed))
        }
    }

    /// What the fencing rule needs to judge a write of `bucket/key` carrying `claim`.
    static func fenceCheck(
        claim: FenceClaim?,
        bucket: String,
        key: String,
        in transaction: any MetadataTransaction
    ) throws -> FenceCheck {
        var check = unclaimedFenceCheck(bucket: bucket, key: key, fencedPaths: try transaction.fencedPaths(in: bucket))
        check.claim = claim
        check.highestToken = try claim.flatMap { try transaction.highestToken(of: $0.lock) }
        check.claimIsLiveHolder = try claim.flatMap { try transaction.isLiveHolder($0) }
        return check
    }

    /// What to check of a write to `key` that carries no claim, given its bucket's fenced paths.
    static func unclaimedFenceCheck(bucket: String, key: String, fencedPaths: [FencedPath]) -> FenceCheck {
        FenceCheck(
            claim: nil,
            pathIsFenced: fencedPaths.contains { $0.contains(bucket: bucket, key: key) },
            highestToken: nil,
            claimIsLiveHolder: nil
        )
    }

    /// Runs the commit rules, and on acceptance records the claim's token as its lock's highest.
    private static func check(
        _ intent: WriteIntent,
        current: ObjectHead?,
        bucket: String,
        key: String,
        in transaction: any MetadataTransaction
    ) throws {
        let fence = try fenceCheck(claim: intent.fence, bucket: bucket, key: key, in: transaction)
        let records = try intent.names.compactMap { try transaction.writeRecord($0) }
        switch CommitRules.decide(intent, current: current, fence: fence, records: records) {
        case .accept:
            if let claim = intent.fence { try transaction.raiseHighestToken(claim) }
        case .reject(let rejection):
            throw StorageError(rejection)
        }
    }

    private static func requireUpload(
        _ id: String,
        bucket: String,
        key: String,
        in transaction: any MetadataTransaction
    ) throws -> MultipartUpload {
        guard let upload = try transaction.upload(id), upload.bucket == bucket, upload.key == key else {
            throw StorageError.noSuchUpload(id)
        }
        return upload
    }
}
