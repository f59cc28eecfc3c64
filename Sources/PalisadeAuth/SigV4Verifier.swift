public import Crypto
public import Foundation
import Synchronization

/// Checks AWS Signature V4 `Authorization` headers against the server's credentials.
public struct SigV4Verifier: Sendable {
    /// What a verified signature tells about the request.
    public struct Verified: Sendable {
        public var accessKeyID: String
        /// The `x-amz-content-sha256` header, when sent.
        public var claimedPayloadHash: String?
        /// The request's signature: the seed of an aws-chunked body's chunk signatures.
        public var signature: String
        /// `x-amz-date`.
        public var timestamp: String
        /// `day/region/service/aws4_request`.
        public var scope: String
        /// The key the request was signed with.
        public var signingKey: SymmetricKey
    }

    /// The keys it accepts.
    public let users: UserDirectory
    private let signingKeys = SigningKeyCache()
    /// How far the request's time may be from the server's: 15 minutes, as S3.
    public var maximumSkew: TimeInterval = 15 * 60

    /// A verifier that accepts the keys of `users` (as they are at each request).
    public init(users: UserDirectory) { self.users = users }

    /// A verifier that accepts these credentials.
    public init(credentials: [SigV4Credentials]) { self.init(users: UserDirectory(administrators: credentials)) }

    /// Verifies a header-signed request.
    /// - Parameters:
    ///   - path: the path as received, percent-encoded.
    ///   - query: the raw query string without `?`.
    ///   - bodyHash: hex SHA-256 of the body, when the caller has the whole body. The request's
    ///     `x-amz-content-sha256`, when sent, must then be that hash: `UNSIGNED-PAYLOAD` is refused,
    ///     so the signature always covers a body the caller acts on.
    ///   - now: the server's time.
    /// - Throws: ``SigV4Error``.
    public func verify(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        bodyHash: String?,
        now: Date
    ) throws(SigV4Error) -> Verified {
        func header(_ name: String) -> String? { SigV4.value(of: name, in: headers) }
        guard let authorization = header("authorization") else {
            throw SigV4Error(
                .missingAuthentication,
                "the request is not signed: send an AWS Signature V4 Authorization header"
            )
        }
        let parsed = try AuthorizationHeader(authorization)
        guard let secret = users.secret(of: parsed.accessKeyID) else {
            throw SigV4Error(.invalidAccessKeyID, "the access key '\(parsed.accessKeyID)' does not exist")
        }
        guard let dateText = header("x-amz-date"), let date = AmzDate(dateText) else {
            throw SigV4Error(.authorizationHeaderMalformed, "x-amz-date is missing or not of the form 20260131T235959Z")
        }
        guard date.day == parsed.day else {
            throw SigV4Error(
                .authorizationHeaderMalformed,
                "the credential scope's date \(parsed.day) is not the date of x-amz-date"
            )
        }
        guard abs(date.date.timeIntervalSince(now)) <= maximumSkew else {
            throw SigV4Error(
                .requestTimeTooSkewed,
                "the request time \(dateText) is more than 15 minutes from the server's time"
            )
        }
        guard parsed.signedHeaders.contains("host") else {
            throw SigV4Error(.authorizationHeaderMalformed, "SignedHeaders must include host")
        }
        let claimed = header("x-amz-content-sha256")
        if let claimed, let bodyHash, claimed != bodyHash {
            throw SigV4Error(
                .contentSHA256Mismatch,
                claimed == SigV4.unsignedPayload
                    ? "UNSIGNED-PAYLOAD is not accepted here: sign the body's SHA-256 in x-amz-content-sha256"
                    : "the body does not hash to x-amz-content-sha256"
            )
        }
        guard let payloadHash = claimed ?? bodyHash else {
            throw SigV4Error(.authorizationHeaderMalformed, "x-amz-content-sha256 is required")
        }
        let canonical = SigV4.canonicalRequest(
            method: method,
            path: path,
            query: query,
            headers: headers,
            signedHeaders: parsed.signedHeaders,
            payloadHash: payloadHash
        )
        let key = signingKeys.key(secret: secret, day: parsed.day, region: parsed.region, service: parsed.service)
        let expected = SigV4.signature(
            stringToSign: SigV4.stringToSign(canonicalRequest: canonical, timestamp: dateText, scope: parsed.scope),
            keyedMAC: key.mac
        )
        guard constantTimeEqual(expected, parsed.signature) else {
            throw SigV4Error(
                .signatureDoesNotMatch,
                "the request signature does not match: check the secret key and the signing method"
            )
        }
        try Self.requireSigned(headers, signedHeaders: parsed.signedHeaders)
        return Verified(
            accessKeyID: parsed.accessKeyID,
            claimedPayloadHash: claimed,
            signature: expected,
            timestamp: dateText,
            scope: parsed.scope,
            signingKey: key.key
        )
    }

    /// Verifies a presigned URL (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
    /// `X-Amz-SignedHeaders` and `X-Amz-Signature` in the query); the payload is unsigned.
    /// - Throws: ``SigV4Error``; `accessDenied`-style expiry is `expiredRequest`.
    public func verifyPresigned(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        now: Date
    ) throws(SigV4Error) -> Verified {
        var parameters: [String: String] = [:]
        var unsigned: [Substring] = []
        for item in SigV4.rawQueryItems(query) {
            let name = SigV4.percentDecode(String(item.name))
            parameters[name] = item.value.map { SigV4.percentDecode(String($0)) } ?? ""
            if name != "X-Amz-Signature" { unsigned.append(item.value.map { "\(item.name)=\($0)" } ?? item.name) }
        }
        let malformed = SigV4Error(
            .authorizationQueryParametersError,
            "the presigned URL's X-Amz-* parameters are incomplete"
        )
        guard parameters["X-Amz-Algorithm"] == SigV4.algorithm, let credential = parameters["X-Amz-Credential"],
            let dateText = parameters["X-Amz-Date"], let date = AmzDate(dateText),
            let expiresText = parameters["X-Amz-Expires"], let expires = Int(expiresText),
            let signedHeaders = parameters["X-Amz-SignedHeaders"], let signature = parameters["X-Amz-Signature"]
        else { throw malformed }
        // AWS's own words for an expiry out of range.
        guard expires >= 0 else {
            throw SigV4Error(.authorizationQueryParametersError, "X-Amz-Expires must be non-negative")
        }
        guard expires <= 604_800 else {
            throw SigV4Error(
                .authorizationQueryParametersError,
                "X-Amz-Expires must be less than a week (in seconds) that is 604800"
            )
        }
        let parsed = try AuthorizationHeader(
            "\(SigV4.algorithm) Credential=\(credential), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        )
        guard let secret = users.secret(of: parsed.accessKeyID) else {
            throw SigV4Error(.invalidAccessKeyID, "the access key '\(parsed.accessKeyID)' does not exist")
        }
        guard date.day == parsed.day else { throw malformed }
        guard now.timeIntervalSince(date.date) <= TimeInterval(expires) else {
            throw SigV4Error(
                .expiredRequest,
                "Request has expired (at \(AmzDate(date.date.addingTimeInterval(TimeInterval(expires))).timestamp))"
            )
        }
        guard date.date.timeIntervalSince(now) <= maximumSkew else {
            throw SigV4Error(.requestTimeTooSkewed, "the presigned URL's X-Amz-Date is in the future")
        }
        let canonical = SigV4.canonicalRequest(
            method: method,
            path: path,
            query: unsigned.joined(separator: "&"),
            headers: headers,
            signedHeaders: parsed.signedHeaders,
            payloadHash: SigV4.unsignedPayload
        )
        let key = signingKeys.key(secret: secret, day: parsed.day, region: parsed.region, service: parsed.service)
        let expected = SigV4.signature(
            stringToSign: SigV4.stringToSign(canonicalRequest: canonical, timestamp: dateText, scope: parsed.scope),
            keyedMAC: key.mac
        )
        guard constantTimeEqual(expected, signature) else {
            throw SigV4Error(.signatureDoesNotMatch, "the presigned URL's signature does not match")
        }
        try Self.requireSigned(headers, signedHeaders: parsed.signedHeaders)
        return Verified(
            accessKeyID: parsed.accessKeyID,
            claimedPayloadHash: SigV4.unsignedPayload,
            signature: expected,
            timestamp: dateText,
            scope: parsed.scope,
            signingKey: key.key
        )
    }

    /// Refuses a request that carries an `x-amz-*` header its signature does not cover, as S3 does
    /// (`x-amz-content-sha256` may go unsigned: the payload check covers it). Without this, a
    /// header added in flight (`x-amz-copy-source`, say) would change what a signed request does.
    static func requireSigned(_ headers: [(name: String, value: String)], signedHeaders: [String]) throws(SigV4Error) {
        let unsigned = headers.lazy.filter { SigV4.isNamed($0.name, startingWith: "x-amz-") }
            .map { SigV4.lowercasedASCII($0.name) }
            .filter { $0 != "x-amz-content-sha256" && !signedHeaders.contains($0) }
        guard unsigned.isEmpty else {
            throw SigV4Error(
                .headersNotSigned,
                "There were headers present in the request which were not signed: \(Set(unsigned).sorted().joined(separator: ", "))"
            )
        }
    }

    func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        var (lhs, rhs) = (lhs, rhs)
        return lhs.withUTF8 { a in
            rhs.withUTF8 { b in a.count == b.count && zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0 }
        }
    }
}

extension SigV4 {
    /// The access key named by an `Authorization` header, or nil when it is not a SigV4 one; for
    /// a request whose signature was already verified.
    public static func accessKeyID(ofAuthorization header: String) -> String? {
        try? AuthorizationHeader(header).accessKeyID
    }
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=…`
struct AuthorizationHeader {
    let accessKeyID: String
    let day: String
    let region: String
    let service: String
    let signedHeaders: [String]
    let signature: String
    /// `day/region/service/aws4_request`.
    let scope: String

    init(_ header: String) throws(SigV4Error) {
        var header = header
        guard let fields = header.withUTF8(Self.fields(of:)) else {
            throw SigV4Error(
                .authorizationHeaderMalformed,
                "the Authorization header is not an AWS4-HMAC-SHA256 signature"
            )
        }
        (accessKeyID, day, region, service) = (
            fields.credential[0], fields.credential[1], fields.credential[2], fields.credential[3]
        )
        signedHeaders = fields.signedHeaders
        signature = fields.signature
        scope = "\(day)/\(region)/\(service)/aws4_request"
    }

    /// The credential's five parts, the signed header names (lowercased) and the signature; nil
    /// when the header is not a complete SigV4 one. Read as bytes: this runs for every signed
    /// request, and Character handling is slow.
    private static func fields(
        of header: UnsafeBufferPointer<UInt8>
    ) -> (credential: [String], signedHeaders: [String], signature: String)? {
        typealias Bytes = Slice<UnsafeBufferPointer<UInt8>>
        func text(_ bytes: Bytes) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes), as: UTF8.self) }
        let prefix = SigV4.algorithm.utf8
        guard header.starts(with: prefix), header.dropFirst(prefix.count).first == UInt8(ascii: " ") else { return nil }
        var credential: [String] = []
        var signedHeaders: [String]?
        var signature: String?
        for part in header[(prefix.count + 1)...].split(separator: UInt8(ascii: ",")) {
            let field = SigV4.trimmingSpaces(part)
            guard let equals = field.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let name = field[..<equals]
            let value = field[(equals + 1)...]
            if name.elementsEqual("Credential".utf8) {
                credential = value.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(text)
            } else if name.elementsEqual("SignedHeaders".utf8) {
                signedHeaders = value.split(separator: UInt8(ascii: ";")).map { SigV4.lowercasedASCII(text($0)) }
            } else if name.elementsEqual("Signature".utf8) {
                signature = text(value)
            }
        }
        guard credential.count == 5, credential[4] == "aws4_request", let signedHeaders, let signature,
            !signature.isEmpty
        else { return nil }
        return (credential, signedHeaders, signature)
    }
}

/// Derived signing keys by secret and scope: deriving one takes four HMACs, and a scope changes
/// once a day, so every request of a client on one day shares one key.
final class SigningKeyCache: Sendable {
    /// A signing key, and an HMAC-SHA256 keyed with it.
    struct SigningKey: Sendable {
        let key: SymmetricKey
        let mac: HMAC<SHA256>
    }

    private let keys = Mutex<[String: SigningKey]>([:])

    func key(secret: String, day: String, region: String, service: String) -> SigningKey {
        let scope = "\(secret)\u{0}\(day)/\(region)/\(service)"
        if let key = keys.withLock({ $0[scope] }) { return key }
        let derived = SigV4.signingKey(secret: secret, date: day, region: region, service: service)
        let key = SigningKey(key: derived, mac: HMAC(key: derived))
        keys.withLock { cache in
            if cache.count >= 1024 { cache.removeAll() }
            cache[scope] = key
        }
        return key
    }
}
