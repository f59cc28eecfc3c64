import PalisadeProtocol
import PalisadeSupport
import StorageCore

#if canImport(Glibc)
import Glibc
#endif

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
        public static let userKeyMustBeSpecified = Code(rawValue: "UserKeyMustBeSpecified")
        public static let badDigest = Code(rawValue: "BadDigest")
        public static let contentSHA256Mismatch = Code(rawValue: "XAmzContentSHA256Mismatch")
        public static let preconditionFailed = Code(rawValue: "PreconditionFailed")
        public static let conditionalRequestConflict = Code(rawValue: "ConditionalRequestConflict")
        public static let incompleteBody = Code(rawValue: "IncompleteBody")
        public static let invalidArgument = Code(rawValue: "InvalidArgument")
        public static let invalidRequest = Code(rawValue: "InvalidRequest")
        public static let internalError = Code(rawValue: "InternalError")
        public static let noSuchUpload = Code(rawValue: "NoSuchUpload")
        public static let invalidPart = Code(rawValue: "InvalidPart")
        public static let invalidPartOrder = Code(rawValue: "InvalidPartOrder")
        public static let entityTooSmall = Code(rawValue: "EntityTooSmall")
        public static let malformedXML = Code(rawValue: "MalformedXML")
        public static let staleFencingToken = Code(rawValue: "StaleFencingToken")
        public static let lockNotHeld = Code(rawValue: "LockNotHeld")
        public static let fencingTokenRequired = Code(rawValue: "FencingTokenRequired")
        public static let fencingLockMismatch = Code(rawValue: "FencingLockMismatch")
        public static let insufficientStorage = Code(rawValue: "InsufficientStorage")
        public static let writeIDAlreadyCommitted = Code(rawValue: "WriteIdAlreadyCommitted")
        public static let writeIDAbandoned = Code(rawValue: "WriteIdAbandoned")
        public static let writeIDMismatch = Code(rawValue: "WriteIdMismatch")
        /// The metadata store cannot be reached (cluster mode: no etcd member answers).
        public static let serviceUnavailable = Code(rawValue: "ServiceUnavailable")
    }

    public var code: Code
    /// What the client is told: never an internal path or a database's own words.
    public var message: String
    /// What the server logs beside the message (the file, the system's reason); never sent.
    public var detail: String?

    public init(_ code: Code, _ message: String, detail: String? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(message)" + (detail.map { " (\($0))" } ?? "") }

    /// The error for a failed file operation: `InsufficientStorage` when the disk is full, else
    /// `InternalError`; the path and the system's reason go to ``detail`` only.
    static func file(_ operation: String, _ path: String, errno code: Int32) -> StorageError {
        let reason = "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        return isOutOfSpace(code)
            ? .outOfSpace(detail: reason)
            : StorageError(.internalError, "the server could not \(operation) a data file", detail: reason)
    }

    /// The error for a write refused because the data folder's disk is full (or short of its reserve).
    static func outOfSpace(detail: String?) -> StorageError {
        StorageError(
            .insufficientStorage,
            "the server does not have enough free disk space to store this data; deleting objects frees space",
            detail: detail
        )
    }
}

extension StorageError {
    /// Refuses a key that ``ObjectKeyRules`` does not accept.
    public static func requireValidKey(_ key: String) throws(StorageError) {
        switch ObjectKeyRules.problem(with: key) {
        case nil: return
        case .empty: throw StorageError(.userKeyMustBeSpecified, "an object key must be specified")
        case .tooLong: throw StorageError(.keyTooLong, "your key is too long: a key is at most 1024 bytes of UTF-8")
        case .containsNUL: throw StorageError(.invalidArgument, "an object key may not contain the NUL character")
        }
    }

    /// The error for a write refused at its commit point.
    public init(_ rejection: CommitRejection) {
        switch rejection {
        case .preconditionFailed:
            self.init(.preconditionFailed, "at least one of the preconditions you specified did not hold")
        case .noSuchKey:
            self.init(.noSuchKey, "the specified key does not exist (If-Match names one of its versions)")
        case .conditionalRequestConflict:
            self.init(.conditionalRequestConflict, "a conflicting operation changed the object while this request ran")
        case .staleFencingToken(let presented, let highest):
            self.init(
                .staleFencingToken,
                "fencing token \(presented) is lower than \(highest), the highest recorded for this lock: a newer holder has written"
            )
        case .lockNotHeld:
            self.init(
                .lockNotHeld,
                "the fencing token does not belong to the lock's live holder: its lease expired or the lock was released"
            )
        case .fencingTokenRequired:
            self.init(
                .fencingTokenRequired,
                "this path is fenced: writes must carry x-palisade-lock and x-palisade-fencing-token"
            )
        case .writeNameTaken:
            self.init(
                .writeIDAlreadyCommitted,
                "another attempt of this write (the same write id) committed while this one ran: nothing more was written; ask again to get its outcome"
            )
        case .writeAbandoned:
            self.init(
                .writeIDAbandoned,
                "this write id was settled as not committed, so no write under it commits: send the write again under a new id"
            )
        }
    }

    static func noSuchBucket(_ name: String) -> StorageError {
        StorageError(.noSuchBucket, "the bucket '\(name)' does not exist")
    }

    public static func noSuchUpload(_ id: String) -> StorageError {
        StorageError(.noSuchUpload, "the upload '\(id)' does not exist: it was completed, aborted or never created")
    }

    /// The error for a lock that does not cover the written key.
    static func fencingLockMismatch(lock: LockName, bucket: String, key: String) -> StorageError {
        StorageError(
            .fencingLockMismatch,
            "lock '\(lock)' does not cover \(bucket)/\(key): use \(bucket)/\(key), a \(bucket)/prefix/ of it, or \(bucket)"
        )
    }

    /// The error for a refused CompleteMultipartUpload.
    init(_ rejection: MultipartRejection) {
        switch rejection {
        case .noParts:
            self.init(.malformedXML, "CompleteMultipartUpload must list at least one part")
        case .invalidPartOrder:
            self.init(.invalidPartOrder, "the list of parts was not in ascending order")
        case .invalidPart(let number):
            self.init(.invalidPart, "part \(number) was not uploaded, or its ETag does not match the part's")
        case .entityTooSmall(let number):
            self.init(
                .entityTooSmall,
                "part \(number) is smaller than the minimum of 5 MiB for a part that is not the last"
            )
        case .missingPartChecksum(let number, let algorithm):
            self.init(
                .invalidRequest,
                "The upload was created using a \(algorithm.rawValue) checksum. The complete request must include the checksum for each part. It was missing for part \(number) in the request."
            )
        case .checksumTypeMismatch(_, let upload):
            self.init(
                .invalidRequest,
                upload.map {
                    "The upload was created using the \($0.rawValue) checksum mode. The complete request must use the same checksum mode."
                } ?? "The upload was created without a checksum; the complete request cannot name a checksum type."
            )
        case .checksumAlgorithmMismatch(_, let upload):
            self.init(
                .invalidRequest,
                upload.map {
                    "The upload was created using a \($0.rawValue) checksum. The complete request must use the same checksum algorithm."
                } ?? "The upload was created without a checksum; the complete request cannot carry one."
            )
        case .checksumMismatch(let algorithm):
            self.init(.badDigest, "The \(algorithm.rawValue) you specified did not match the calculated checksum.")
        case .objectSizeMismatch(let claimed, let actual):
            self.init(
                .invalidRequest,
                "The x-amz-mp-object-size value \(claimed) does not match the size of the parts, \(actual) bytes."
            )
        }
    }
}
