/// What became of a named write. A client may name a write (`x-palisade-write-id`), and a
/// multipart upload names its own completion: the write's commit records its outcome under the
/// name in the same atomic step, so a retry is answered with the first outcome instead of writing
/// twice, and a client whose write timed out can ask what became of it.
public struct WriteRecord: Sendable, Equatable {
    /// The write's name, unique in the store (the gateway scopes a client's id by its access key).
    public var name: String
    /// When the record was made, ms since 1970; records are removed after the retention period.
    public var recordedAt: Int64
    /// The committed write; nil for a name declared abandoned: a write under it never commits.
    public var committed: CommittedWrite?

    public init(name: String, recordedAt: Int64, committed: CommittedWrite?) {
        self.name = name
        self.recordedAt = recordedAt
        self.committed = committed
    }
}

/// The outcome of a committed named write.
public struct CommittedWrite: Sendable, Equatable {
    public var kind: WriteIntent.Kind
    public var bucket: String
    public var key: String
    /// The version a put made current; nil for a delete.
    public var versionID: String?
    /// The ETag of the version a put made current; nil for a delete.
    public var etag: String?
    /// The commit's sequence; nil for the delete of an absent key, which changes nothing.
    public var commitSequence: UInt64?

    public init(
        kind: WriteIntent.Kind,
        bucket: String,
        key: String,
        versionID: String? = nil,
        etag: String? = nil,
        commitSequence: UInt64? = nil
    ) {
        self.kind = kind
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
        self.etag = etag
        self.commitSequence = commitSequence
    }
}
