import HTTPTypes
import Hummingbird
import PalisadeAuth

/// An S3 request, parsed: bucket and key (path-style, or virtual-host style under a configured
/// domain), the query, the headers.
struct S3Request: Sendable {
    let method: HTTPRequest.Method
    /// The path as sent, percent-encoded.
    let rawPath: String
    /// The query as sent, without `?`.
    let rawQuery: String
    /// Query parameters, percent-decoded; a parameter without `=` has the value "".
    let query: [String: String]
    let bucket: String?
    let key: String?
    /// The bucket is named by the Host header (`bucket.domain`), not the path.
    let isVirtualHosted: Bool
    /// The path's escapes decode to bytes that are not UTF-8: no bucket or key can be named so.
    let hasUndecodablePath: Bool
    let headers: HTTPFields
    let authority: String?

    /// Parses `request`; with `domain`, a Host of `bucket.domain` names the bucket and the path is the key.
    init(_ request: Request, domain: String?) {
        method = request.method
        let target = request.head.path ?? "/"
        let mark = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        rawPath = mark.map { String(target[..<$0]) } ?? target
        rawQuery = mark.map { String(target[target.index(after: $0)...]) } ?? ""
        var query: [String: String] = [:]
        for item in SigV4.rawQueryItems(rawQuery) {
            query[SigV4.percentDecode(String(item.name))] = item.value.map { SigV4.percentDecode(String($0)) } ?? ""
        }
        self.query = query
        let path = rawPath.dropFirst()
        let hostname = request.head.authority.map { String($0.prefix { $0 != ":" }).lowercased() } ?? ""
        var undecodable = false
        func decode(_ part: Substring) -> String? {
            guard !part.isEmpty else { return nil }
            guard let decoded = SigV4.percentDecodeExactly(String(part)) else {
                undecodable = true
                return nil
            }
            return decoded
        }
        if let domain, hostname.hasSuffix("." + domain.lowercased()) {
            isVirtualHosted = true
            bucket = String(hostname.dropLast(domain.count + 1))
            key = decode(path)
        } else {
            isVirtualHosted = false
            let slash = path.firstIndex(of: "/")
            bucket = decode(slash.map { path[..<$0] } ?? path)
            key = decode(slash.map { path[path.index(after: $0)...] } ?? "")
        }
        hasUndecodablePath = undecodable
        headers = request.headers
        authority = request.head.authority
    }

    /// The value of the header `name` (lowercase); repeated fields joined by ", ", as `HTTPFields`
    /// joins them. Matched by canonical name with no `HTTPField.Name` built and validated for each
    /// look-up: a PUT looks up some thirty headers, most of them absent.
    func header(_ name: String) -> String? {
        var value: String?
        for field in headers where field.name.canonicalName == name {
            value = value.map { $0 + ", " + field.value } ?? field.value
        }
        return value
    }

    /// Whether the request announced a body: after a refusal, its rest may still be on the wire
    /// (the answer then closes the connection rather than read it).
    var mayHaveUnreadBody: Bool {
        headers[.transferEncoding] != nil || (headers[.contentLength].map { $0 != "0" } ?? false)
    }

    /// The headers as the client signed them (`host` restored from the authority).
    var signableHeaders: [(name: String, value: String)] {
        var fields = headers.map { (name: $0.name.canonicalName, value: $0.value) }
        if let authority, !fields.contains(where: { $0.name == "host" }) { fields.append(("host", authority)) }
        return fields
    }

    /// A POST of an HTML form to a bucket (S3's POST Object, made by `generate_presigned_post`).
    var isBrowserFormUpload: Bool {
        method == .post && key == nil && bucket != nil
            && header("content-type")?.lowercased().hasPrefix("multipart/form-data") == true
    }

    /// `/bucket/key` as S3 names it in `<Resource>`.
    var resource: String {
        "/" + (bucket ?? "") + (key.map { "/" + $0 } ?? "")
    }
}
