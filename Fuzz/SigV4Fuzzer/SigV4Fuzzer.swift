import Foundation
import PalisadeAuth

/// libFuzzer target: the SigV4 canonicalizer and verifier on arbitrary requests. The input's
/// lines are the method, the path, the query, then `name: value` headers. Nothing may crash, a
/// forged request must never verify, and percent-encoding must round-trip.
let verifier = SigV4Verifier(credentials: [SigV4Credentials(accessKeyID: "AKIDFUZZ", secretAccessKey: "fuzz-secret")])
let signer = SigV4Signer(credentials: SigV4Credentials(accessKeyID: "AKIDFUZZ", secretAccessKey: "fuzz-secret"))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    while lines.count < 3 { lines.append("") }
    let (method, path, query) = (lines[0], lines[1], lines[2])
    let headers: [(name: String, value: String)] = lines.dropFirst(3).compactMap { line in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (String(line[..<colon]), String(line[line.index(after: colon)...]))
    }
    let now = Date(timeIntervalSince1970: 1_767_225_600)
    // Whatever the input claims, it was not signed with the secret: it must not verify.
    if (try? verifier.verify(method: method, path: path, query: query, headers: headers, bodyHash: nil, now: now))
        != nil
    {
        fatalError("a request not signed with the secret verified")
    }
    _ = try? verifier.verifyPresigned(method: method, path: path, query: query, headers: headers, now: now)
    _ = SigV4.canonicalQuery(query)
    _ = SigV4.canonicalRequest(
        method: method,
        path: path,
        query: query,
        headers: headers,
        signedHeaders: headers.map { $0.name.lowercased() }.sorted(),
        payloadHash: SigV4.unsignedPayload
    )
    // What the signer signs, the verifier accepts.
    let hostHeaders = [(name: "host", value: "fuzz.example")]
    let safePath = "/" + SigV4.uriEncode(path, keepSlash: true)
    let signed =
        hostHeaders
        + signer.signatureHeaders(
            method: "GET",
            path: safePath,
            query: "",
            headers: hostHeaders,
            payloadHash: SigV4.emptyPayloadHash,
            date: now
        )
    guard
        (try? verifier.verify(
            method: "GET",
            path: safePath,
            query: "",
            headers: signed,
            bodyHash: SigV4.emptyPayloadHash,
            now: now
        )) != nil
    else { fatalError("a correctly signed request did not verify: \(safePath)") }
    guard SigV4.percentDecode(SigV4.uriEncode(text)) == text else { fatalError("percent-encoding did not round-trip") }
    return 0
}
