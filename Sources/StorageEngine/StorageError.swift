/// Why the object store refused a request. The S3 shell turns each ``Code`` into one S3 error.
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of refusal; `rawValue` is the S3 error code.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let noSuchBucket = Code(rawValue: "NoSuchBucket")
        public static let noSuchKey = Code(rawValue: "NoSuchKey")
        public static let bucketAlreadyOwnedByYou = Code(rawValue: "BucketAlreadyOwnedByYou")
        public static let bucketNotEmpty = Code(rawValue: "BucketNotEmpty")
        public static let invalidBucketName = Code(rawValue: "InvalidBucketName")
        public static let keyTooLong = Code(rawValue: "KeyTooLongError")
        public static let badDigest = Code(rawValue: "BadDigest")
        public static let invalidDigest = Code(rawValue: "InvalidDigest")
        public static let checksumMismatch = Code(rawValue: "XAmzContentChecksumMismatch")
        public static let contentSHA256Mismatch = Code(rawValue: "XAmzContentSHA256Mismatch")
        public static let preconditionFailed = Code(rawValue: "PreconditionFailed")
        public static let conditionalRequestConflict = Code(rawValue: "ConditionalRequestConflict")
        public static let incompleteBody = Code(rawValue: "IncompleteBody")
        public static let invalidArgument = Code(rawValue: "InvalidArgument")
        public static let internalError = Code(rawValue: "InternalError")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
