/// A client's name for one storage write (`x-palisade-write-id`), and what became of it
/// (`Protocol/s3-compatibility.md#named-writes`).
public enum WriteID {
    /// Why `text` is not a write id (1–128 of `A–Z a–z 0–9 . _ : -`), or nil when it is one.
    public static func validationFailure(_ text: String) -> String? {
        let allowed = text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
                || byte == UInt8(ascii: "-")
        }
        return (1...128).contains(text.utf8.count) && allowed
            ? nil : "a write id is 1 to 128 characters of A-Z a-z 0-9 . _ : -"
    }
}

/// `GET /_palisade/v1/writes/ID` and `POST /_palisade/v1/writes/ID/settle`: what became of a named write.
public struct WriteOutcomeResponse: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// The write committed; the other fields say what it did.
        case committed
        /// The write did not commit and never will: no write under this id commits any more.
        case notCommitted = "not_committed"
        /// Nothing is known yet (a GET): the write may still be in flight. Settle to be sure.
        case unknown
    }

    public var writeID: String
    public var status: Status
    /// `put` (PutObject, CopyObject, CompleteMultipartUpload) or `delete`.
    public var operation: String?
    public var bucket: String?
    public var key: String?
    /// The version the write made current (a put).
    public var versionID: String?
    /// The ETag of that version, unquoted (a put).
    public var etag: String?
    /// The commit's `x-palisade-commit-sequence`; absent for the delete of a key that was not there.
    public var commitSequence: UInt64?

    public init(
        writeID: String,
        status: Status,
        operation: String? = nil,
        bucket: String? = nil,
        key: String? = nil,
        versionID: String? = nil,
        etag: String? = nil,
        commitSequence: UInt64? = nil
    ) {
        self.writeID = writeID
        self.status = status
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
        self.etag = etag
        self.commitSequence = commitSequence
    }

    enum CodingKeys: String, CodingKey {
        case writeID = "write_id"
        case status
        case operation
        case bucket
        case key
        case versionID = "version_id"
        case etag
        case commitSequence = "commit_sequence"
    }
}
