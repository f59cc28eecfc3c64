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
    /// The checksum the object gets (`x-amz-checksum-algorithm` and `-type`); each part is checksummed with its algorithm.
    public var checksum: MultipartChecksum?

    public init(
        id: String,
        bucket: String,
        key: String,
        initiated: Int64,
        contentHeaders: [String: String],
        userMetadata: [String: String],
        checksum: MultipartChecksum? = nil
    ) {
        self.id = id
        self.bucket = bucket
        self.key = key
        self.initiated = initiated
        self.contentHeaders = contentHeaders
        self.userMetadata = userMetadata
        self.checksum = checksum
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
    /// The part's checksum in its upload's algorithm (base64), when the upload has one.
    public var checksum: String?

    public init(
        number: Int,
        blobID: String,
        size: Int64,
        etag: String,
        lastModified: Int64,
        fenceToken: FencingToken? = nil,
        checksum: String? = nil
    ) {
        self.number = number
        self.blobID = blobID
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.fenceToken = fenceToken
        self.checksum = checksum
    }
}

/// A part as CompleteMultipartUpload lists it.
public struct RequestedPart: Sendable, Equatable {
    public var number: Int
    /// Unquoted.
    public var etag: String
    /// The part's checksum in the upload's algorithm, as the request lists it.
    public var checksum: String?

    public init(number: Int, etag: String, checksum: String? = nil) {
        self.number = number
        self.etag = etag
        self.checksum = checksum
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
        /// The parts' checksums in the upload's algorithm, in order (empty when it has none).
        public var partChecksums: [String] = []
    }

    /// Checks `requested` against `uploaded`: ascending part numbers, each uploaded with exactly
    /// that ETag (and the checksum listed, when one is), each but the last at least
    /// ``minimumPartSize``. An upload with a composite `checksum` needs every part's checksum listed.
    public static func assemble(
        requested: [RequestedPart],
        uploaded: [UploadedPart],
        checksum: MultipartChecksum? = nil
    ) -> Result<Assembly, MultipartRejection> {
        guard !requested.isEmpty else { return .failure(.noParts) }
        // As S3: the order of the whole list first, then each part's ETag, then the sizes.
        guard zip(requested, requested.dropFirst()).allSatisfy({ $0.number < $1.number }) else {
            return .failure(.invalidPartOrder)
        }
        let byNumber = Dictionary(uploaded.map { ($0.number, $0) }, uniquingKeysWith: { _, last in last })
        var segments: [ObjectHead.Segment] = []
        var partChecksums: [String] = []
        for part in requested {
            guard let found = byNumber[part.number], found.etag == part.etag else {
                return .failure(.invalidPart(part.number))
            }
            if let checksum {
                if part.checksum == nil, checksum.type == .composite {
                    return .failure(.missingPartChecksum(part.number, checksum.algorithm))
                }
                guard let stored = found.checksum, part.checksum.map({ $0 == stored }) ?? true else {
                    return .failure(.invalidPart(part.number))
                }
                partChecksums.append(stored)
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
                partETags: segments.compactMap(\.etag),
                partChecksums: partChecksums
            )
        )
    }

    /// Checks what a completion claims of its object against the upload's `checksum`, the
    /// object's checksum as the parts make it (`computed`) and its `size`.
    public static func check(
        _ claims: CompletionClaims,
        checksum: MultipartChecksum?,
        computed: String?,
        size: Int64
    ) -> MultipartRejection? {
        if let type = claims.checksumType, type != checksum?.type {
            return .checksumTypeMismatch(claimed: type, upload: checksum?.type)
        }
        if let claimed = claims.checksum {
            guard let checksum, claimed.algorithm == checksum.algorithm, let computed else {
                return .checksumAlgorithmMismatch(claimed: claimed.algorithm, upload: checksum?.algorithm)
            }
            // A composite value may be claimed with or without its `-N`.
            let bare = computed.split(separator: "-").first.map(String.init) ?? computed
            guard claimed.value == computed || claimed.value == bare else {
                return .checksumMismatch(claimed.algorithm)
            }
        }
        if let claimedSize = claims.objectSize, claimedSize != size {
            return .objectSizeMismatch(claimed: claimedSize, actual: size)
        }
        return nil
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
    /// The upload's checksum is composite and the request lists this part without its checksum.
    case missingPartChecksum(Int, ChecksumAlgorithm)
    /// `x-amz-checksum-type` differs from the upload's.
    case checksumTypeMismatch(claimed: ChecksumType, upload: ChecksumType?)
    /// The object's checksum is claimed in an algorithm the upload does not use.
    case checksumAlgorithmMismatch(claimed: ChecksumAlgorithm, upload: ChecksumAlgorithm?)
    /// The claimed object checksum differs from the one the parts make.
    case checksumMismatch(ChecksumAlgorithm)
    /// `x-amz-mp-object-size` differs from the parts' total.
    case objectSizeMismatch(claimed: Int64, actual: Int64)
}
