/// The committed metadata of one object version: everything but its bytes (which a small object's
/// head may carry too: ``inlineData``).
public struct ObjectHead: Sendable, Equatable {
    public var bucket: String
    public var key: String
    /// The id of the version; its bytes live in the blob named by it, unless they are inline.
    public var versionID: String
    public var size: Int64
    /// The quoted-free ETag: hex MD5 of a single PUT, or of the parts' MD5s plus `-N`.
    public var etag: String
    /// Milliseconds since 1970-01-01 UTC.
    public var lastModified: Int64
    /// The server-wide commit sequence of the write that created this version.
    public var commitSequence: UInt64
    /// Content-Type, Content-Encoding, Content-Disposition, Cache-Control, Expires, Content-Language,
    /// by lowercase header name.
    public var contentHeaders: [String: String]
    /// `x-amz-meta-*` headers, by lowercase name without the prefix.
    public var userMetadata: [String: String]
    /// Checksums sent with the upload, by algorithm (`crc32`, `crc32c`, `crc64nvme`, `sha1`, `sha256`),
    /// base64 as in `x-amz-checksum-*`.
    public var checksums: [String: String]
    /// The lock and token the version was written under, if any.
    public var fence: FenceClaim?
    /// The blobs that hold the bytes, in order: one for a single PUT, one per part for a completed
    /// multipart upload (completing never copies data).
    public var segments: [Segment]
    /// The bytes themselves, for a small object its metadata store keeps with its head (written by
    /// the same commit); its one segment then names no blob on disk.
    public var inlineData: [UInt8]?

    /// One blob of an object's bytes.
    public struct Segment: Sendable, Equatable, Codable {
        public var blobID: String
        public var size: Int64
        /// The part's ETag, for a part of a multipart object.
        public var etag: String?

        public init(blobID: String, size: Int64, etag: String? = nil) {
            self.blobID = blobID
            self.size = size
            self.etag = etag
        }
    }

    public init(
        bucket: String,
        key: String,
        versionID: String,
        size: Int64,
        etag: String,
        lastModified: Int64,
        commitSequence: UInt64,
        contentHeaders: [String: String] = [:],
        userMetadata: [String: String] = [:],
        checksums: [String: String] = [:],
        segments: [Segment]? = nil,
        fence: FenceClaim? = nil,
        inlineData: [UInt8]? = nil
    ) {
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.commitSequence = commitSequence
        self.contentHeaders = contentHeaders
        self.userMetadata = userMetadata
        self.checksums = checksums
        self.segments = segments ?? [Segment(blobID: versionID, size: size)]
        self.fence = fence
        self.inlineData = inlineData
    }
}
