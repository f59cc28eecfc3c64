import Crypto
public import Foundation

extension SigV4Verifier {
    /// Verifies a request signed with AWS Signature Version 2: the `Authorization: AWS AKID:SIG`
    /// header (its `Date` or `x-amz-date` within 15 minutes of `now`), or a presigned URL
    /// (`AWSAccessKeyId`, `Expires` at most 7 days ahead, `Signature`). Every `x-amz-*` header is in
    /// the string to sign; the body is not (as with `UNSIGNED-PAYLOAD`).
    /// - Parameter bucketFromHost: the bucket named by the Host header (virtual-host style).
    /// - Throws: ``SigV4Error``.
    public func verifyV2(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        bucketFromHost: String?,
        now: Date
    ) throws(SigV4Error) -> Verified {
        func header(_ name: String) -> String? { SigV4.value(of: name, in: headers) }
        var parameters: [String: String] = [:]
        for item in SigV4.rawQueryItems(query) {
            parameters[SigV4.percentDecode(String(item.name))] = item.value.map { SigV4.percentDecode(String($0)) }
        }
        let accessKeyID: String
        let claimedSignature: String
        let date: String
        if let signature = parameters["Signature"] {
            guard let key = parameters["AWSAccessKeyId"], let expiresText = parameters["Expires"],
                let expires = TimeInterval(expiresText)
            else {
                throw SigV4Error(
                    .authorizationQueryParametersError,
                    "a SigV2 presigned URL carries AWSAccessKeyId, Expires and Signature"
                )
            }
            guard now.timeIntervalSince1970 <= expires else {
                throw SigV4Error(.expiredRequest, "Request has expired")
            }
            guard expires - now.timeIntervalSince1970 <= 604_800 else {
                throw SigV4Error(
                    .authorizationQueryParametersError,
                    "Expires must be less than a week (in seconds) from now"
                )
            }
            (accessKeyID, claimedSignature, date) = (key, signature, expiresText)
        } else {
            let authorization = header("authorization") ?? ""
            let credential = authorization.dropFirst("AWS ".count)
            guard authorization.hasPrefix("AWS "), let colon = credential.lastIndex(of: ":") else {
                throw SigV4Error(.authorizationHeaderMalformed, "a SigV2 Authorization header is AWS AKID:SIGNATURE")
            }
            let amzDate = header("x-amz-date")
            guard let sent = amzDate ?? header("date"), let time = Self.httpDate(sent) else {
                throw SigV4Error(.authorizationHeaderMalformed, "a SigV2 request carries a Date or x-amz-date header")
            }
            guard abs(time.timeIntervalSince(now)) <= maximumSkew else {
                throw SigV4Error(
                    .requestTimeTooSkewed,
                    "the request time \(sent) is more than 15 minutes from the server's time"
                )
            }
            accessKeyID = String(credential[..<colon])
            claimedSignature = String(credential[credential.index(after: colon)...])
            date = amzDate == nil ? sent : ""
        }
        guard let secret = users.secret(of: accessKeyID) else {
            throw SigV4Error(.invalidAccessKeyID, "the access key '\(accessKeyID)' does not exist")
        }
        let claimedPayload = header("x-amz-content-sha256")
        if let claimedPayload, claimedPayload.hasPrefix("STREAMING-") {
            throw SigV4Error(.authorizationHeaderMalformed, "aws-chunked payloads need AWS Signature Version 4")
        }
        // A bucket's own resource is `/bucket/`; path-style clients sign it with or without the slash.
        let isBucketPath = bucketFromHost == nil && path.count > 1 && !path.dropFirst().contains("/")
        let paths = isBucketPath ? [path, path + "/"] : [path]
        let candidates = paths.map { path in
            SigV2.signature(
                stringToSign: SigV2.stringToSign(
                    method: method,
                    headers: headers,
                    date: date,
                    resource: SigV2.canonicalResource(bucketFromHost: bucketFromHost, path: path, query: query)
                ),
                secret: secret
            )
        }
        guard let expected = candidates.first(where: { constantTimeEqual($0, claimedSignature) }) else {
            throw SigV4Error(
                .signatureDoesNotMatch,
                "the request signature does not match: check the secret key and the signing method"
            )
        }
        return Verified(
            accessKeyID: accessKeyID,
            claimedPayloadHash: claimedPayload ?? SigV4.unsignedPayload,
            signature: expected,
            timestamp: "",
            scope: "",
            signingKey: SymmetricKey(data: Data(secret.utf8))
        )
    }

    /// An RFC 1123 date (`Date`, or `x-amz-date` in that form), or `x-amz-date`'s ISO 8601 basic form.
    static func httpDate(_ text: String) -> Date? {
        if let amz = AmzDate(text) { return amz.date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
