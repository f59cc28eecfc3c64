/// The checksum algorithms of `x-amz-checksum-*`.
public enum ChecksumAlgorithm: String, CaseIterable, Sendable, Hashable {
    case crc32, crc32c, crc64nvme, sha1, sha256

    /// The header that carries this checksum, such as `x-amz-checksum-crc32`.
    public var headerName: String { "x-amz-checksum-\(rawValue)" }

    /// The name S3 uses in headers and XML values, such as `CRC32`.
    public var s3Name: String { rawValue.uppercased() }

    /// The element that carries this checksum in S3's XML, such as `ChecksumCRC32`.
    public var elementName: String { "Checksum" + s3Name }

    /// The type a multipart upload gets when it names this algorithm and no type, as S3 does.
    public var defaultMultipartType: ChecksumType { self == .crc64nvme ? .fullObject : .composite }

    /// Whether an upload can make its object's checksum of this algorithm in the way `type` says:
    /// the CRCs combine into a full-object value, the hashes do not; CRC-64/NVME is full-object only.
    public func supports(_ type: ChecksumType) -> Bool {
        switch type {
        case .composite: self != .crc64nvme
        case .fullObject: self == .crc32 || self == .crc32c || self == .crc64nvme
        }
    }
}

/// How a multipart object's checksum is made from its parts' (`x-amz-checksum-type`).
public enum ChecksumType: String, Sendable, Hashable {
    /// The checksum of the parts' checksums, written `value-N` for N parts.
    case composite = "COMPOSITE"
    /// The checksum of the whole object's bytes, as a single PUT's.
    case fullObject = "FULL_OBJECT"

    /// The type of a stored checksum value: a composite one ends in `-N`.
    public init(ofStoredValue value: String) {
        self = value.contains("-") ? .composite : .fullObject
    }
}

/// The checksum a multipart upload gives its object, chosen when the upload is created.
public struct MultipartChecksum: Sendable, Equatable {
    public var algorithm: ChecksumAlgorithm
    public var type: ChecksumType

    public init(algorithm: ChecksumAlgorithm, type: ChecksumType) {
        self.algorithm = algorithm
        self.type = type
    }

    /// The checksum as a store keeps it (the raw values of algorithm and type); nil without both.
    public init?(storedAlgorithm: String?, storedType: String?) {
        guard let algorithm = storedAlgorithm.flatMap(ChecksumAlgorithm.init(rawValue:)),
            let type = storedType.flatMap(ChecksumType.init(rawValue:))
        else { return nil }
        self.init(algorithm: algorithm, type: type)
    }
}

/// What a CompleteMultipartUpload request says of the object it makes (`x-amz-checksum-type`,
/// `x-amz-checksum-*`, `x-amz-mp-object-size`); each is checked at the commit point.
public struct CompletionClaims: Sendable, Equatable {
    public var checksumType: ChecksumType?
    /// The object's checksum as the client computed it.
    public var checksum: (algorithm: ChecksumAlgorithm, value: String)?
    public var objectSize: Int64?

    public init(
        checksumType: ChecksumType? = nil,
        checksum: (algorithm: ChecksumAlgorithm, value: String)? = nil,
        objectSize: Int64? = nil
    ) {
        self.checksumType = checksumType
        self.checksum = checksum
        self.objectSize = objectSize
    }

    public static func == (left: CompletionClaims, right: CompletionClaims) -> Bool {
        left.checksumType == right.checksumType && left.checksum?.algorithm == right.checksum?.algorithm
            && left.checksum?.value == right.checksum?.value && left.objectSize == right.objectSize
    }
}
