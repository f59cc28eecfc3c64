/// An access key and its secret.
public struct SigV4Credentials: Sendable, Equatable {
    public var accessKeyID: String
    public var secretAccessKey: String

    public init(accessKeyID: String, secretAccessKey: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }
}

/// Why a request's signature was not accepted.
public struct SigV4Error: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; each maps to one S3-style error code.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// No `Authorization` header (401).
        case missingAuthentication = "MissingAuthentication"
        /// The `Authorization` header or `x-amz-date` cannot be parsed (400).
        case authorizationHeaderMalformed = "AuthorizationHeaderMalformed"
        /// The access key is unknown (403).
        case invalidAccessKeyID = "InvalidAccessKeyId"
        /// The signature does not match (403).
        case signatureDoesNotMatch = "SignatureDoesNotMatch"
        /// The request time is too far from the server's (403).
        case requestTimeTooSkewed = "RequestTimeTooSkewed"
        /// The body does not hash to `x-amz-content-sha256` (400).
        case contentSHA256Mismatch = "XAmzContentSHA256Mismatch"
        /// A presigned URL's query parameters are incomplete or malformed (400).
        case authorizationQueryParametersError = "AuthorizationQueryParametersError"
        /// A presigned URL has expired (403).
        case expiredRequest = "AccessDenied"
        /// An `x-amz-*` header is present but not signed (403; S3 answers `AccessDenied`).
        case headersNotSigned = "HeadersNotSigned"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
