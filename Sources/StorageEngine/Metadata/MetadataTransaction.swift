public import PalisadeProtocol
public import StorageCore

/// One atomic step of a metadata store, as a commit sees it: what the commit reads, and the
/// changes it makes, which the store applies all together when the commit ends — or none of them.
///
/// ``CommitPoint`` runs every write's commit against one, so the rules are the same whatever store
/// holds the metadata. A store may run a commit more than once (an optimistic store runs it again
/// when something it read changed before its changes could be applied), so a commit reads and
/// changes the world only through its transaction.
public protocol MetadataTransaction: AnyObject {
    // MARK: Reads

    func bucketExists(_ name: String) throws -> Bool
    /// Whether the bucket holds an object.
    func bucketHasObjects(_ name: String) throws -> Bool
    /// Uploads in progress in the bucket, at most `limit`, by key then initiation.
    func uploads(in bucket: String, limit: Int) throws -> [MultipartUpload]
    /// The current version of a key, or nil.
    func head(bucket: String, key: String) throws -> ObjectHead?
    /// The fenced paths of one bucket.
    func fencedPaths(in bucket: String) throws -> [FencedPath]
    /// The highest token an accepted write has recorded for `lock`, or nil.
    func highestToken(of lock: LockName) throws -> FencingToken?
    /// Whether the claim's token belongs to its lock's live holder; nil where no lock service runs
    /// in the deployment.
    func isLiveHolder(_ claim: FenceClaim) throws -> Bool?
    func upload(_ id: String) throws -> MultipartUpload?
    /// Every part uploaded so far (the last upload of each number).
    func parts(of uploadID: String) throws -> [UploadedPart]
    /// The record of the write named `name`, with its commit's sequence, or nil.
    func writeRecord(_ name: String) throws -> WriteRecord?

    // MARK: Changes

    func insertBucket(_ name: String, createdAt: Int64) throws
    func removeBucket(_ name: String) throws
    /// Makes `head` its key's current version; the store gives it the commit's sequence.
    func putHead(_ head: ObjectHead) throws
    /// Removes a key's current version; the removal gets the commit's sequence.
    func removeHead(bucket: String, key: String) throws
    /// Records the claim's token as its lock's highest, unless a higher one is recorded.
    func raiseHighestToken(_ claim: FenceClaim) throws
    func insertUpload(_ upload: MultipartUpload) throws
    /// Stores a part, replacing an earlier upload of the same number.
    func putPart(_ part: UploadedPart, uploadID: String) throws
    /// Ends an upload and forgets its parts.
    func removeUpload(_ id: String) throws
    func setFenced(_ path: FencedPath, _ fenced: Bool) throws
    /// Records a named write's outcome; a committed write whose commit puts or removes a head is
    /// recorded with that commit's sequence (whatever `record` says of it).
    func putWriteRecord(_ record: WriteRecord) throws
}
