public import Foundation

/// Signs requests with AWS Signature V4 in the `Authorization` header.
public struct SigV4Signer: Sendable {
    public var credentials: SigV4Credentials
    public var region: String
    public var service: String
    private let signingKeys = SigningKeyCache()

    /// A signer for one access key, region and service (`s3` for the gateway and the lock API).
    public init(credentials: SigV4Credentials, region: String = "us-east-1", service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to add to a request so that it is signed: `x-amz-date`, `x-amz-content-sha256`
    /// and `authorization`. Every header in `headers` (which must include `host`) is signed.
    /// - Parameters:
    ///   - path: the path as it will be sent, percent-encoded.
    ///   - query: the raw query string without `?`.
    ///   - payloadHash: hex SHA-256 of the body, or ``SigV4/unsignedPayload``.
    public func signatureHeaders(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        payloadHash: String,
        date: Date = Date()
    ) -> [(name: String, value: String)] {
        let amzDate = AmzDate(date)
        let (timestamp, day) = (amzDate.timestamp, amzDate.day)
        let added: [(name: String, value: String)] = [("x-amz-date", timestamp), ("x-amz-content-sha256", payloadHash)]
        let all = headers.map { (name: SigV4.lowercasedASCII($0.name), value: $0.value) } + added
        var signedHeaders: [String] = []
        for name in all.map(\.name).sorted() where name != signedHeaders.last { signedHeaders.append(name) }
        let canonical = SigV4.canonicalRequest(
            method: method,
            path: path,
            query: query,
            headers: all,
            signedHeaders: signedHeaders,
            payloadHash: payloadHash
        )
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let signature = sign(canonical, timestamp: timestamp, day: day, scope: scope)
        let authorization =
            "\(SigV4.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
        return added + [("authorization", authorization)]
    }

    /// The headers to send with a request to `host`: `headers` with lower-cased names, then the
    /// signature's (``signatureHeaders(method:path:query:headers:payloadHash:date:)``). `host` is
    /// signed but not among them: the HTTP client sends it.
    public func requestHeaders(
        method: String,
        path: String,
        query: String,
        host: String,
        headers: [(name: String, value: String)] = [],
        payloadHash: String
    ) -> [(name: String, value: String)] {
        let sent = headers.map { (name: SigV4.lowercasedASCII($0.name), value: $0.value) }
        return sent
            + signatureHeaders(
                method: method,
                path: path,
                query: query,
                headers: [("host", host)] + sent,
                payloadHash: payloadHash
            )
    }

    /// A presigned URL's query string (without `?`): anyone holding it may send `method` to `path`
    /// until `expires` has passed. Only `host` is signed; the payload is unsigned.
    /// - Parameters:
    ///   - host: the `host` header the request will carry (`127.0.0.1:9000`).
    ///   - query: the request's own query, raw, without `?` (may be empty).
    public func presignedQuery(
        method: String,
        path: String,
        host: String,
        query: String = "",
        expires: Duration,
        date: Date = Date()
    ) -> String {
        let amzDate = AmzDate(date)
        let (timestamp, day) = (amzDate.timestamp, amzDate.day)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        var parameters = [
            "X-Amz-Algorithm=\(SigV4.algorithm)",
            "X-Amz-Credential=\(SigV4.uriEncode("\(credentials.accessKeyID)/\(scope)"))",
            "X-Amz-Date=\(timestamp)",
            "X-Amz-Expires=\(expires.components.seconds)",
            "X-Amz-SignedHeaders=host",
        ]
        if !query.isEmpty { parameters.append(query) }
        let unsignedQuery = parameters.joined(separator: "&")
        let canonical = SigV4.canonicalRequest(
            method: method,
            path: path,
            query: unsignedQuery,
            headers: [("host", host)],
            signedHeaders: ["host"],
            payloadHash: SigV4.unsignedPayload
        )
        let signature = sign(canonical, timestamp: timestamp, day: day, scope: scope)
        return unsignedQuery + "&X-Amz-Signature=\(signature)"
    }

    /// The signature of a canonical request made at `timestamp` (on `day`) in `scope`.
    private func sign(_ canonical: String, timestamp: String, day: String, scope: String) -> String {
        let key = signingKeys.key(secret: credentials.secretAccessKey, day: day, region: region, service: service)
        return SigV4.signature(
            stringToSign: SigV4.stringToSign(canonicalRequest: canonical, timestamp: timestamp, scope: scope),
            keyedMAC: key.mac
        )
    }
}
