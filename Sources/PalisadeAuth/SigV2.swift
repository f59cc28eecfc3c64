import Crypto
import Foundation

/// AWS Signature Version 2 for S3 (the `AWS AKID:signature` header and `AWSAccessKeyId`/`Expires`/
/// `Signature` query), which boto3 still uses for presigned URLs to custom endpoints: the string
/// to sign, with no I/O. Its signature covers the method, `Content-MD5`, `Content-Type`, the date
/// (or the expiry), every `x-amz-*` header and the resource — never the body.
public enum SigV2 {
    /// The query parameters that are part of the canonical resource, as S3 lists them.
    static let subresources: Set<String> = [
        "accelerate", "acl", "analytics", "cors", "delete", "inventory", "legal-hold", "lifecycle", "location",
        "logging", "metrics", "notification", "object-lock", "partNumber", "policy", "replication",
        "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires", "restore", "retention", "select",
        "select-type", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
    ]

    /// The string to sign.
    /// - Parameters:
    ///   - date: the `Date` header (empty when `x-amz-date` is sent), or a presigned URL's `Expires`.
    ///   - resource: ``canonicalResource(bucketFromHost:path:query:)``.
    public static func stringToSign(
        method: String,
        headers: [(name: String, value: String)],
        date: String,
        resource: String
    ) -> String {
        func header(_ name: String) -> String {
            SigV4.value(of: name, in: headers)?.trimmingCharacters(in: .whitespaces) ?? ""
        }
        var amzHeaders: [String: [String]] = [:]
        for (name, value) in headers where name.lowercased().hasPrefix("x-amz-") {
            amzHeaders[name.lowercased(), default: []].append(value.trimmingCharacters(in: .whitespaces))
        }
        let amzLines = amzHeaders.keys.sorted().map { "\($0):\(amzHeaders[$0]!.joined(separator: ","))\n" }
        return [method, header("content-md5"), header("content-type"), date].joined(separator: "\n") + "\n"
            + amzLines.joined() + resource
    }

    /// `/bucket/key` as sent (percent-encoded), with the sub-resources of the query sorted by name
    /// (their values decoded), as S3 canonicalizes it; `bucketFromHost` for virtual-host style.
    public static func canonicalResource(bucketFromHost: String?, path: String, query: String) -> String {
        var parameters: [(name: String, value: String?)] = []
        for item in SigV4.rawQueryItems(query) where subresources.contains(String(item.name)) {
            parameters.append((String(item.name), item.value.map { SigV4.percentDecode(String($0)) }))
        }
        let sorted = parameters.sorted { $0.name < $1.name }.map { item in
            item.value.map { "\(item.name)=\($0)" } ?? item.name
        }
        return (bucketFromHost.map { "/" + $0 } ?? "") + path
            + (sorted.isEmpty ? "" : "?" + sorted.joined(separator: "&"))
    }

    /// Base64 HMAC-SHA1 of `stringToSign` with the secret key.
    public static func signature(stringToSign: String, secret: String) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Data(stringToSign.utf8),
            using: SymmetricKey(data: Data(secret.utf8))
        )
        return Data(mac).base64EncodedString()
    }
}
