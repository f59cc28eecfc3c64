import AsyncHTTPClient
import Foundation
public import NIOCore
import NIOHTTP1
public import PalisadeAuth

/// A small signing S3 client for tests: raw control over paths, headers, payload modes and bodies.
public struct S3TestClient: Sendable {
    /// An answer: status, headers and body.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: ByteBuffer

        public var text: String { String(buffer: body) }
        public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
        /// `<Code>` of an S3 error body.
        public var errorCode: String? {
            guard let start = text.range(of: "<Code>"), let end = text.range(of: "</Code>") else { return nil }
            return String(text[start.upperBound..<end.lowerBound])
        }
    }

    /// How the payload is declared in `x-amz-content-sha256`.
    public enum Payload: Sendable {
        case signed
        case unsigned
        case declared(String)
    }

    public let endpoint: String
    public let host: String
    public let signer: SigV4Signer

    /// A client of `endpoint`; `host` overrides the Host header (for virtual-host style requests).
    public init(endpoint: String, credentials: SigV4Credentials, host: String? = nil) {
        self.endpoint = endpoint
        self.host = host ?? String(endpoint.dropFirst("http://".count))
        self.signer = SigV4Signer(credentials: credentials)
    }

    /// Sends `method path?query` with `body`, signed unless `signed` is false.
    /// - Parameters:
    ///   - path: the path as it goes on the wire (percent-encoded).
    ///   - addedAfterSigning: headers sent but left out of the signature, as if added in flight.
    public func send(
        _ method: String,
        _ path: String,
        query: String = "",
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        payload: Payload = .signed,
        signed: Bool = true,
        addedAfterSigning: [(name: String, value: String)] = []
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: endpoint + path + (query.isEmpty ? "" : "?" + query))
        request.method = HTTPMethod(rawValue: method)
        var all: [(name: String, value: String)] = [("host", host)] + headers
        if signed {
            let hash: String =
                switch payload {
                case .signed: SigV4.hexSHA256(body)
                case .unsigned: SigV4.unsignedPayload
                case .declared(let value): value
                }
            all += signer.signatureHeaders(method: method, path: path, query: query, headers: all, payloadHash: hash)
        }
        for header in all + addedAfterSigning { request.headers.add(name: header.name, value: header.value) }
        if !body.isEmpty || method == "PUT" { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 256 * 1024 * 1024)
        return Answer(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            body: bytes
        )
    }

    /// The head of a request signed with `payloadHash` (`UNSIGNED-PAYLOAD` unless told), as raw
    /// HTTP/1.1 text ending in the blank line (for tests that then send a malformed or truncated
    /// body themselves).
    public func signedRequestHead(
        _ method: String,
        _ path: String,
        headers: [(name: String, value: String)],
        payloadHash: String = SigV4.unsignedPayload
    ) -> String {
        let all = [("host", host)] + headers
        let signature = signer.signatureHeaders(
            method: method,
            path: path,
            query: "",
            headers: all,
            payloadHash: payloadHash
        )
        return "\(method) \(path) HTTP/1.1\r\n" + (all + signature).map { "\($0.name): \($0.value)\r\n" }.joined()
            + "\r\n"
    }

    /// PUTs `data` as an aws-chunked body with chunk signatures (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`),
    /// chained from the request's signature. With `tamperWithChunk`, one byte of that chunk is changed
    /// after signing.
    public func putSignedChunked(
        _ path: String,
        data: [UInt8],
        chunkSize: Int,
        tamperWithChunk: Int? = nil
    ) async throws
        -> Answer
    {
        let headers: [(name: String, value: String)] = [
            ("host", host), ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", String(data.count)),
        ]
        let signature = signer.signatureHeaders(
            method: "PUT",
            path: path,
            query: "",
            headers: headers,
            payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        )
        let authorization = signature.first { $0.name == "authorization" }!.value
        let timestamp = signature.first { $0.name == "x-amz-date" }!.value
        let day = String(timestamp.prefix(8))
        let scope = "\(day)/\(signer.region)/\(signer.service)/aws4_request"
        let key = SigV4.signingKey(
            secret: signer.credentials.secretAccessKey,
            date: day,
            region: signer.region,
            service: signer.service
        )
        var previous = String(authorization.split(separator: "=").last!)
        var chunks = stride(from: 0, to: data.count, by: chunkSize).map {
            Array(data[$0..<min($0 + chunkSize, data.count)])
        }
        chunks.append([])
        var body: [UInt8] = []
        for (index, var chunk) in chunks.enumerated() {
            let stringToSign = [
                "AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous, SigV4.emptyPayloadHash, SigV4.hexSHA256(chunk),
            ].joined(separator: "\n")
            previous = SigV4.signature(stringToSign: stringToSign, key: key)
            if index == tamperWithChunk, !chunk.isEmpty { chunk[0] ^= 0xff }
            body +=
                Array("\(String(chunk.count, radix: 16));chunk-signature=\(previous)\r\n".utf8) + chunk
                + Array("\r\n".utf8)
        }
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .PUT
        for header in headers + signature where header.name != "host" {
            request.headers.add(name: header.name, value: header.value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return Answer(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            body: bytes
        )
    }
}
