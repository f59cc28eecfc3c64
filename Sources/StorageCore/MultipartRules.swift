public import PalisadeProtocol

/// A multipart upload in progress.
public struct MultipartUpload: Sendable, Equatable {
    public var id: String
    public var bucket: String
    public var key: String
    /// Milliseconds since 1970.
    public var initiated: Int64
    /// The object's headers and metadata, given when the upload was created.
    public var contentHeaders: [String: String]
    public var userMetadata: [String: String]

    public init(
        id: String,
        bucket: String,
        key: String,
        initiated: Int64,
        contentHeaders: [String: String],
        userMetadata: [String: String]
    ) {
        self.id = id
        self.bucket = bucket
        self.key = key
        self.initiated = initiated
        self.contentHeaders = contentHeaders
        self.userMetadata = userMetadata
    }
}

/// A part as uploaded (the last upload of a part number wins).
public struct UploadedPart: Sendable, Equatable {
    public var number: Int
    public var blobID: String
    public var size: Int64
    public var etag: String
    public var lastModified: Int64
    /// The fencing token the part was uploaded with, if any.
    public var fenceToken: FencingToken?

    public init(
        number: Int,
        blobID: String,
        size: Int64,
        etag: String,
        lastModified: Int64,
        fenceToken: FencingToken? = nil
    ) {
        self.number = number
        self.blobID = blobID
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.fenceToken = fenceToken
    }
}

/// A part as CompleteMultipartUpload lists it.
public struct RequestedPart: Sendable, Equatable {
    public var number: Int
    /// Unquoted.
    public var etag: String

    public init(number: Int, etag: String) {
        self.number = number
        self.etag = etag
    }
}

/// The rules of CompleteMultipartUpload: which uploaded parts make the object, or why none can.
public enum MultipartRules {
    /// Every part but the last must be at least 5 MiB.
    public static let minimumPartSize: Int64 = 5 * 1024 * 1024
    /// Part numbers are 1 to 10 000.
    public static let partNumbers: ClosedRange<Int> = 1...10_000

    /// The object a completion assembles.
    public struct Assembly: Sendable, Equatable {
        public var segments: [ObjectHead.Segment]
        /// The smallest fencing token among the parts (nil when a part has none).
        public var lowestPartToken: FencingToken?
        public var size: Int64
        /// The parts' ETags (hex MD5s) in order; the object's ETag is MD5 of their bytes, `-N`.
        public var partETags: [String]
    }

    /// Checks `requested` against `uploaded`: ascending part numbers, each uploaded with exactly
    /// that ETag, each but the last at least ``minimumPartSize``.
    public static func assemble(
        requested: [RequestedPart],
        uploaded: [UploadedPart]
    ) -> Result<Assembly, MultipartRejection> {
        guard !requested.isEmpty else { return .failure(.noParts) }
        // As S3: the order of the whole list first, then each part's ETag, then the sizes.
        guard zip(requested, requested.dropFirst()).allSatisfy({ $0.number < $1.number }) else {
            return .failure(.invalidPartOrder)
        }
        let byNumber = Dictionary(uploaded.map { ($0.number, $0) }, uniquingKeysWith: { _, last in last })
        var segments: [ObjectHead.Segment] = []
        for part in requested {
            guard let found = byNumber[part.number], found.etag == part.etag else {
                return .failure(.invalidPart(part.number))
            }
            segments.append(ObjectHead.Segment(blobID: found.blobID, size: found.size, etag: found.etag))
        }
        if let small = zip(requested, segments).dropLast().first(where: { $0.1.size < minimumPartSize }) {
            return .failure(.entityTooSmall(small.0.number))
        }
        let tokens = requested.compactMap { byNumber[$0.number]?.fenceToken }
        return .success(
            Assembly(
                segments: segments,
                lowestPartToken: tokens.count == requested.count ? tokens.min() : nil,
                size: segments.reduce(0) { $0 + $1.size },
                partETags: segments.compactMap(\.etag)
            )
        )
    }
}

/// Why CompleteMultipartUpload was refused; the upload stays as it was.
public enum MultipartRejection: Error, Sendable, Equatable {
    /// The request lists no parts.
    case noParts
    /// Part numbers are not in ascending order.
    case invalidPartOrder
    /// This part was not uploaded, or its ETag differs (a later upload of the number replaced it).
    case invalidPart(Int)
    /// This part, not the last, is smaller than 5 MiB.
    case entityTooSmall(Int)
}
