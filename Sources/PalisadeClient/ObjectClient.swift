public import AsyncHTTPClient
import Foundation
public import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import PalisadeAuth
import PalisadeProtocol
import PalisadeSupport

/// A small S3 client for Palisade's gateway: signed PUT, GET and DELETE of objects, and buckets,
/// with writes fenced by a lock held through ``locks``.
///
/// ```swift
/// let store = ObjectClient(endpoint: "http://127.0.0.1:9000", credentials: credentials)
/// try await store.withLock("orders/2026/42") { lock in
///     try await store.put(bucket: "orders", key: "2026/42", body: report, fencedBy: lock)
/// }
/// ```
public struct ObjectClient: Sendable {
    /// Whether a PUT's body is hashed into its signature (`x-amz-content-sha256`) or sent unsigned.
    public enum PayloadSigning: Sendable {
        case signed
        case unsigned
    }

    /// What a committed write answers.
    public struct WriteResult: Sendable, Equatable {
        /// Unquoted.
        public var etag: String
        /// The server-wide commit sequence of the write (`x-palisade-commit-sequence`).
        public var commitSequence: UInt64?
        /// The id the write was sent under (`x-palisade-write-id`): ask ``writeOutcome(_:settle:)``.
        public var writeID: String?
        /// True when an earlier attempt under the same id had committed: this is its outcome.
        public var replayed = false
    }

    /// The gateways; a request that cannot reach one is retried on the next.
    public let endpoints: GatewayEndpoints
    public let credentials: SigV4Credentials
    let signer: SigV4Signer
    let httpClient: HTTPClient
    public let payloadSigning: PayloadSigning

    /// A client of the gateway at `endpoint` (such as `http://127.0.0.1:9000`), or of several
    /// gateways separated by commas.
    public init(
        endpoint: String,
        credentials: SigV4Credentials,
        payloadSigning: PayloadSigning = .signed,
        httpClient: HTTPClient = LockClient.sharedHTTPClient
    ) {
        self.init(
            endpoints: GatewayEndpoints(parsing: endpoint),
            credentials: credentials,
            payloadSigning: payloadSigning,
            httpClient: httpClient
        )
    }

    /// A client of `endpoints`, which it shares with other clients made with them.
    public init(
        endpoints: GatewayEndpoints,
        credentials: SigV4Credentials,
        payloadSigning: PayloadSigning = .signed,
        httpClient: HTTPClient = LockClient.sharedHTTPClient
    ) {
        self.endpoints = endpoints
        self.credentials = credentials
        self.signer = SigV4Signer(credentials: credentials)
        self.httpClient = httpClient
        self.payloadSigning = payloadSigning
    }

    /// Creates a bucket; an existing bucket of yours is fine.
    public func createBucket(_ bucket: String) async throws {
        let (status, headers, body) = try await send("PUT", bucket: bucket, key: nil, body: ByteBuffer())
        if status != 200, Self.errorCode(body) != "BucketAlreadyOwnedByYou" { throw Self.error(status, headers, body) }
    }

    /// Stores `body` as `key`, as a named write: under a fresh `x-palisade-write-id` unless
    /// `headers` carry one, so a retry after a lost answer is answered, never stored twice.
    public func put(
        bucket: String,
        key: String,
        body: ByteBuffer,
        headers: [(name: String, value: String)] = []
    ) async throws
        -> WriteResult
    {
        let (headers, writeID) = Self.named(headers)
        let (status, responseHeaders, answer) = try await send(
            "PUT",
            bucket: bucket,
            key: key,
            body: body,
            headers: headers
        )
        guard status == 200 else { throw Self.error(status, responseHeaders, answer) }
        return WriteResult(
            etag: (responseHeaders.first(name: "etag") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
            commitSequence: responseHeaders.first(name: PalisadeHeaders.commitSequence).flatMap(UInt64.init),
            writeID: writeID,
            replayed: responseHeaders.first(name: PalisadeHeaders.writeReplayed) == "true"
        )
    }

    /// `headers` with a write id (a fresh one unless they carry one), and the id.
    static func named(_ headers: [(name: String, value: String)]) -> ([(name: String, value: String)], String) {
        if let given = headers.first(where: { $0.name.lowercased() == PalisadeHeaders.writeID }) {
            return (headers, given.value)
        }
        let id = newWriteID()
        return (headers + [(PalisadeHeaders.writeID, id)], id)
    }

    /// A fresh write id: 128 random bits from the standard library's generator (`getrandom()`) as
    /// 32 hex digits. (Foundation's `UUID()` opens `/dev/urandom` for each id on Linux.)
    public static func newWriteID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bits = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeBytes(of: bits, Hex.lowercase)
    }

    /// What became of the write sent under `writeID` by these credentials; with `settle`, the
    /// final answer (`notCommitted` then means it never will be: `Protocol/s3-compatibility.md`).
    public func writeOutcome(_ writeID: String, settle: Bool = false) async throws -> WriteOutcomeResponse {
        let path = "/writes/" + SigV4.uriEncode(writeID) + (settle ? "/settle" : "")
        return try await locks.call(settle ? "POST" : "GET", path)
    }

    /// Stores `body` as `key` under `lock`: the gateway refuses it (`StaleFencingToken`,
    /// `LockNotHeld`) if a newer holder has taken the lock by the time it commits.
    public func put(
        bucket: String,
        key: String,
        body: ByteBuffer,
        fencedBy lock: LockGrant,
        headers: [(name: String, value: String)] = []
    ) async throws -> WriteResult {
        try await put(bucket: bucket, key: key, body: body, headers: headers + lock.fencingHeaders)
    }

    /// Deletes `key` under `lock` (refused like a fenced put when the lock was lost).
    public func delete(bucket: String, key: String, fencedBy lock: LockGrant) async throws {
        try await delete(bucket: bucket, key: key, headers: lock.fencingHeaders)
    }

    /// The lock client of the same server and credentials.
    public var locks: LockClient {
        LockClient(configuration: .init(endpoints: endpoints, credentials: credentials), httpClient: httpClient)
    }

    /// Takes `name` (such as `bucket/key`, `bucket/prefix/` or `bucket`), runs `body` holding it,
    /// and releases it; see ``LockClient/withLock(_:ttl:wait:mode:_:)``.
    public func withLock<T: Sendable>(
        _ name: LockName,
        ttl: Duration = .seconds(10),
        wait: Duration = .seconds(30),
        _ body: @escaping @Sendable (LockGrant) async throws -> T
    ) async throws -> T {
        try await locks.withLock(name, ttl: ttl, wait: wait, body)
    }

    /// Reads `key` whole.
    public func get(bucket: String, key: String) async throws -> ByteBuffer {
        let (status, headers, body) = try await send("GET", bucket: bucket, key: key, body: ByteBuffer())
        guard status == 200 else { throw Self.error(status, headers, body) }
        return body
    }

    /// Reads `key` and counts its bytes without keeping them (for large objects).
    public func getDiscarding(bucket: String, key: String) async throws -> Int64 {
        let response = try await execute("GET", bucket: bucket, key: key, body: ByteBuffer(), headers: [])
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw Self.error(response.status.code, response.headers, body)
        }
        var count: Int64 = 0
        for try await chunk in response.body { count += Int64(chunk.readableBytes) }
        return count
    }

    /// Deletes `key` (absent keys too), as a named write like ``put(bucket:key:body:headers:)``.
    public func delete(bucket: String, key: String, headers: [(name: String, value: String)] = []) async throws {
        let (status, responseHeaders, body) = try await send(
            "DELETE",
            bucket: bucket,
            key: key,
            body: ByteBuffer(),
            headers: Self.named(headers).0
        )
        guard status == 204 else { throw Self.error(status, responseHeaders, body) }
    }

    /// One page of a listing (ListObjectsV2): keys under `prefix` in UTF-8 binary order.
    public struct ListPage: Sendable, Equatable {
        public var keys: [String]
        public var commonPrefixes: [String]
        /// Pass to the next call to read the next page; nil on the last page.
        public var continuationToken: String?
    }

    /// Lists keys of `bucket` under `prefix`, rolled up at `delimiter` when given.
    public func list(
        bucket: String,
        prefix: String = "",
        delimiter: String? = nil,
        continuationToken: String? = nil,
        maxKeys: Int = 1000
    ) async throws -> ListPage {
        var query = ["list-type=2", "max-keys=\(maxKeys)", "prefix=" + SigV4.uriEncode(prefix)]
        if let delimiter { query.append("delimiter=" + SigV4.uriEncode(delimiter)) }
        if let continuationToken { query.append("continuation-token=" + SigV4.uriEncode(continuationToken)) }
        let (status, headers, body) = try await send(
            "GET",
            bucket: bucket,
            key: nil,
            query: query.joined(separator: "&")
        )
        guard status == 200 else { throw Self.error(status, headers, body) }
        let text = String(buffer: body)
        return ListPage(
            keys: Self.values(of: "Key", in: text),
            commonPrefixes: Self.values(of: "Prefix", in: text).dropFirst().map { $0 },
            continuationToken: Self.values(of: "NextContinuationToken", in: text).first
        )
    }

    /// Uploads `parts` (each but the last at least 5 MiB) as one object with a multipart upload,
    /// every request fenced by `lock` when given; the upload is aborted if any step fails.
    public func putMultipart(
        bucket: String,
        key: String,
        parts: [ByteBuffer],
        fencedBy lock: LockGrant? = nil
    ) async throws
        -> WriteResult
    {
        let fencing = lock?.fencingHeaders ?? []
        let (status, headers, body) = try await send("POST", bucket: bucket, key: key, query: "uploads")
        guard status == 200, let uploadID = Self.values(of: "UploadId", in: String(buffer: body)).first else {
            throw Self.error(status, headers, body)
        }
        do {
            var completion = "<CompleteMultipartUpload>"
            for (index, part) in parts.enumerated() {
                let (partStatus, partHeaders, answer) = try await send(
                    "PUT",
                    bucket: bucket,
                    key: key,
                    query: "partNumber=\(index + 1)&uploadId=\(uploadID)",
                    body: part,
                    headers: fencing
                )
                guard partStatus == 200, let etag = partHeaders.first(name: "etag") else {
                    throw Self.error(partStatus, partHeaders, answer)
                }
                completion += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(etag)</ETag></Part>"
            }
            completion += "</CompleteMultipartUpload>"
            let (named, writeID) = Self.named(fencing)
            let (doneStatus, doneHeaders, answer) = try await send(
                "POST",
                bucket: bucket,
                key: key,
                query: "uploadId=\(uploadID)",
                body: ByteBuffer(string: completion),
                headers: named
            )
            guard doneStatus == 200 else { throw Self.error(doneStatus, doneHeaders, answer) }
            return WriteResult(
                etag: (Self.values(of: "ETag", in: String(buffer: answer)).first ?? "")
                    .replacingOccurrences(of: "&quot;", with: "").trimmingCharacters(
                        in: CharacterSet(charactersIn: "\"")
                    ),
                commitSequence: doneHeaders.first(name: PalisadeHeaders.commitSequence).flatMap(UInt64.init),
                writeID: writeID,
                replayed: doneHeaders.first(name: PalisadeHeaders.writeReplayed) == "true"
            )
        } catch {
            _ = try? await send("DELETE", bucket: bucket, key: key, query: "uploadId=\(uploadID)", headers: fencing)
            throw error
        }
    }

    /// The texts of every `<name>` element of an XML answer.
    static func values(of name: String, in text: String) -> [String] {
        text.components(separatedBy: "<\(name)>").dropFirst().compactMap {
            $0.components(separatedBy: "</\(name)>").first
        }
    }

    private func send(
        _ method: String,
        bucket: String,
        key: String?,
        query: String = "",
        body: ByteBuffer = ByteBuffer(),
        headers: [(name: String, value: String)] = []
    ) async throws -> (UInt, HTTPHeaders, ByteBuffer) {
        let response = try await execute(method, bucket: bucket, key: key, query: query, body: body, headers: headers)
        return (response.status.code, response.headers, try await response.body.collect(upTo: 256 * 1024 * 1024))
    }

    /// Sends one request; one that cannot reach its gateway, or that a gateway answers with 503
    /// when there are others (it cannot reach its store, or it is shutting down), is sent again to
    /// the next gateway, up to ``maximumAttempts`` times — except a POST that is not a named write
    /// (creating a multipart upload). Writes are named (`x-palisade-write-id`), so one sent again
    /// after its answer was lost is answered with the first outcome, not stored twice.
    private func execute(
        _ method: String,
        bucket: String,
        key: String?,
        query: String = "",
        body: ByteBuffer,
        headers: [(name: String, value: String)]
    ) async throws -> HTTPClientResponse {
        let isNamed = headers.contains { $0.name == PalisadeHeaders.writeID }
        let attempts = method == "POST" && !isNamed ? 1 : Self.maximumAttempts
        var attempt = 1
        while true {
            let endpoint = endpoints.current
            do {
                let response = try await execute(
                    method,
                    on: endpoint,
                    bucket: bucket,
                    key: key,
                    query: query,
                    body: body,
                    headers: headers
                )
                guard response.status == .serviceUnavailable, endpoints.all.count > 1, attempt < attempts else {
                    return response
                }
            } catch {
                guard attempt < attempts, !Task.isCancelled else { throw error }
            }
            endpoints.failed(endpoint)
            attempt += 1
        }
    }

    /// Attempts per request when a gateway cannot be reached.
    static let maximumAttempts = 3

    private func execute(
        _ method: String,
        on endpoint: String,
        bucket: String,
        key: String?,
        query: String,
        body: ByteBuffer,
        headers: [(name: String, value: String)]
    ) async throws -> HTTPClientResponse {
        let path = "/" + SigV4.uriEncode(bucket) + (key.map { "/" + SigV4.uriEncode($0, keepSlash: true) } ?? "")
        var request = HTTPClientRequest(url: endpoint + path + (query.isEmpty ? "" : "?" + query))
        request.method = HTTPMethod(rawValue: method)
        let payloadHash =
            body.readableBytes == 0
            ? SigV4.emptyPayloadHash
            : payloadSigning == .signed ? SigV4.hexSHA256(body.readableBytesView) : SigV4.unsignedPayload
        for header in signer.requestHeaders(
            method: method,
            path: path,
            query: query,
            host: LockClient.authority(of: endpoint),
            headers: headers,
            payloadHash: payloadHash
        ) {
            request.headers.add(name: header.name, value: header.value)
        }
        if method == "PUT" || body.readableBytes > 0 { request.body = .bytes(body) }
        return try await httpClient.execute(request, timeout: .minutes(10))
    }

    static func errorCode(_ body: ByteBuffer) -> String? {
        let text = String(buffer: body)
        guard let start = text.range(of: "<Code>"), let end = text.range(of: "</Code>") else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    static func error(_ status: UInt, _ headers: HTTPHeaders, _ body: ByteBuffer) -> ObjectClientError {
        ObjectClientError(
            status: Int(status),
            code: errorCode(body) ?? "HTTP\(status)",
            requestID: headers.first(name: "x-amz-request-id")
        )
    }
}

/// An S3 error answered by the gateway.
public struct ObjectClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public var status: Int
    /// The S3 error code, such as `NoSuchKey` or `StaleFencingToken`.
    public var code: String
    public var requestID: String?

    public var description: String { "\(code) (HTTP \(status)\(requestID.map { ", request \($0)" } ?? ""))" }
}
