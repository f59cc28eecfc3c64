import Foundation
import HTTPTypes
import Hummingbird
import PalisadeAuth
import PalisadeProtocol
import StorageCore
import StorageEngine

extension S3Gateway {
    /// The largest single PUT S3 accepts: 5 GiB.
    static let maximumObjectSize: Int64 = 5 * 1024 * 1024 * 1024

    /// Headers that are stored with an object and returned with it.
    static let storedContentHeaders = [
        "content-type", "content-encoding", "content-disposition", "cache-control", "expires", "content-language",
    ]

    func putObject(
        bucket: String,
        key: String,
        s3: S3Request,
        request: Request,
        verified: SigV4Verifier.Verified
    )
        async throws -> Response
    {
        var put = try Self.putRequest(bucket: bucket, key: key, s3: s3)
        put.writeName = try Self.writeName(of: s3, accessKeyID: verified.accessKeyID)
        if let earlier = try await earlierAttempt(named: put.writeName, kind: .put, bucket: bucket, key: key) {
            try await Self.discardBody(of: request)
            return Response(status: .ok, headers: Self.replayedHeaders(earlier))
        }
        let body = try Self.uploadBody(s3, request: request, verified: verified, into: &put)
        let head = try await store.put(put, body: body)
        var headers: HTTPFields = [.eTag: "\"\(head.etag)\""]
        headers[HTTPField.Name(PalisadeHeaders.commitSequence)!] = String(head.commitSequence)
        Self.addChecksums(head.checksums, to: &headers)
        return Response(status: .ok, headers: headers)
    }

    /// The body of a PutObject or UploadPart, decoded as `x-amz-content-sha256` declares it; sets
    /// the expected size, payload hash and trailing checksums of `put`.
    static func uploadBody(
        _ s3: S3Request,
        request: Request,
        verified: SigV4Verifier.Verified,
        into put: inout PutRequest
    )
        throws -> UploadBody
    {
        let payload = verified.claimedPayloadHash ?? SigV4.unsignedPayload
        switch payload {
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
            guard let decoded = s3.header("x-amz-decoded-content-length").flatMap(Int64.init), decoded >= 0 else {
                throw S3Error(
                    .lengthRequired,
                    "MissingContentLength",
                    "aws-chunked uploads need x-amz-decoded-content-length"
                )
            }
            guard decoded <= maximumObjectSize else { throw entityTooLarge }
            put.expectedSize = decoded
            let signing =
                payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
                ? nil
                : AWSChunkedBody<RequestBody>.Signing(
                    key: verified.signingKey,
                    timestamp: verified.timestamp,
                    scope: verified.scope,
                    seed: verified.signature
                )
            let trailers = AWSChunkedBody<RequestBody>.Trailers()
            let declaredTrailers = (s3.header("x-amz-trailer") ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            }.filter { !$0.isEmpty }
            if let algorithm = declaredTrailers.lazy.compactMap(checksumAlgorithm(header:)).first {
                put.checksumsToCompute.insert(algorithm)
                put.trailingChecksums = { trailers.all[algorithm.headerName].map { [algorithm: $0] } ?? [:] }
            }
            return .chunked(
                AWSChunkedBody(
                    base: request.body,
                    signing: signing,
                    decodedLength: decoded,
                    expectedTrailers: declaredTrailers,
                    trailers: trailers
                )
            )
        case let other where other.hasPrefix("STREAMING-"):
            throw S3Error.notImplemented("the payload signing mode \(other)")
        default:
            if payload != SigV4.unsignedPayload { put.expectedSHA256Hex = payload }
            guard let length = s3.header("content-length").flatMap(Int64.init) else {
                // `curl -T -` and streaming SDKs: a body sent in HTTP chunks, its length known at its end.
                guard s3.header("transfer-encoding")?.lowercased().contains("chunked") == true else {
                    throw S3Error(
                        .lengthRequired,
                        "MissingContentLength",
                        "you must provide the Content-Length HTTP header"
                    )
                }
                return .unannounced(request.body, limit: maximumObjectSize, tooLarge: entityTooLarge)
            }
            guard length <= maximumObjectSize else { throw entityTooLarge }
            put.expectedSize = length
            return .plain(request.body)
        }
    }

    static var entityTooLarge: S3Error {
        S3Error(.badRequest, "EntityTooLarge", "your proposed upload exceeds the maximum allowed object size (5 GiB)")
    }

    /// The stored headers, metadata, checksums and conditions of a PutObject.
    static func putRequest(bucket: String, key: String, s3: S3Request) throws -> PutRequest {
        try UnsupportedFeatures.refuseInObjectWrite(s3)
        var put = PutRequest(bucket: bucket, key: key)
        for name in storedContentHeaders {
            guard var value = s3.header(name) else { continue }
            if name == "content-encoding" {
                value = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { $0 != "aws-chunked" }.joined(separator: ",")
                if value.isEmpty { continue }
            }
            put.contentHeaders[name] = value
        }
        put.userMetadata = userMetadata(of: s3)
        put.preconditions = writePreconditions(of: s3)
        put.fence = try fenceClaim(of: s3)
        if let md5 = s3.header("content-md5") {
            guard let bytes = Data(base64Encoded: md5), bytes.count == 16 else {
                throw S3Error(.badRequest, "InvalidDigest", "the Content-MD5 you specified is not valid")
            }
            put.expectedMD5Base64 = md5
        }
        for algorithm in ChecksumAlgorithm.allCases {
            if let value = s3.header(algorithm.headerName) { put.expectedChecksums[algorithm] = value }
        }
        if let requested = s3.header("x-amz-sdk-checksum-algorithm").flatMap({
            ChecksumAlgorithm(rawValue: $0.lowercased())
        }) {
            put.checksumsToCompute.insert(requested)
        }
        return put
    }

    static func userMetadata(of s3: S3Request) -> [String: String] {
        var metadata: [String: String] = [:]
        for field in s3.headers where field.name.canonicalName.hasPrefix("x-amz-meta-") {
            metadata[String(field.name.canonicalName.dropFirst("x-amz-meta-".count))] = RFC2047.decode(field.value)
        }
        return metadata
    }

    /// `If-Match` and `If-None-Match` of a write, each an ETag (quoted or not) or `*`.
    static func writePreconditions(of s3: S3Request) -> WritePreconditions {
        WritePreconditions(
            ifMatch: s3.header("if-match").map(unquoted(etag:)),
            ifNoneMatch: s3.header("if-none-match").map(unquoted(etag:))
        )
    }

    /// An ETag as a client sends it (quoted or not, perhaps padded) as the store keeps it.
    static func unquoted(etag: String) -> String { etag.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }

    /// The fencing claim of a write: `x-palisade-lock` and `x-palisade-fencing-token`, both or neither.
    static func fenceClaim(of s3: S3Request) throws -> FenceClaim? {
        let lock = s3.header(PalisadeHeaders.lock)
        let token = s3.header(PalisadeHeaders.fencingToken)
        guard lock != nil || token != nil else { return nil }
        guard let lock, let token, let value = FencingToken(token) else {
            throw S3Error.invalidArgument(
                "\(PalisadeHeaders.lock) and \(PalisadeHeaders.fencingToken) go together; the token is a positive decimal integer"
            )
        }
        guard let name = LockName(rawValue: lock) else {
            throw S3Error.invalidArgument(LockName.validationFailure(lock) ?? "invalid lock name")
        }
        return FenceClaim(lock: name, token: value)
    }

    static func checksumAlgorithm(header: String) -> ChecksumAlgorithm? {
        ChecksumAlgorithm.allCases.first { $0.headerName == header.lowercased().trimmingCharacters(in: .whitespaces) }
    }

    /// Reads up to this many bytes are read whole before the answer starts; larger ones stream.
    static var bufferedReadLimit: Int64 { 256 * 1024 }

    /// GetObject and HeadObject: a snapshot of the current version, whole, a range, or a part.
    func getObject(bucket: String, key: String, s3: S3Request) async throws -> Response {
        let reader = try await store.open(bucket: bucket, key: key)
        let answer: (status: HTTPResponse.Status, headers: HTTPFields, range: Range<Int64>)
        do {
            answer = try Self.answer(for: reader, s3: s3)
        } catch {
            await reader.close()
            throw error
        }
        guard s3.method == .get, answer.status != .notModified else {
            await reader.close()
            return Response(status: answer.status, headers: answer.headers)
        }
        let chunks = reader.chunks(answer.range)
        if answer.range.count <= Self.bufferedReadLimit {
            // A small read is answered whole: head and body leave in one write, and the version is let go at once.
            var body = ByteBuffer()
            do {
                for try await chunk in chunks { body.writeImmutableBuffer(chunk) }
            } catch {
                await reader.close()
                throw error
            }
            await reader.close()
            return Response(status: answer.status, headers: answer.headers, body: ResponseBody(byteBuffer: body))
        }
        return Response(
            status: answer.status,
            headers: answer.headers,
            body: ResponseBody(contentLength: Int(answer.range.count)) { writer in
                do {
                    try await writer.write(chunks)
                    try await writer.finish(nil)
                } catch {
                    await reader.close()
                    throw error
                }
                await reader.close()
            }
        )
    }

    /// The status, headers and byte range that answer a read of `reader`'s version.
    static func answer(
        for reader: ObjectReader,
        s3: S3Request
    ) throws -> (HTTPResponse.Status, HTTPFields, Range<Int64>) {
        let head = reader.head
        var headers = objectHeaders(head, checksums: s3.header("x-amz-checksum-mode")?.uppercased() == "ENABLED")
        switch readPreconditions(of: s3).evaluate(head) {
        case .proceed: break
        case .notModified:
            return (
                .notModified,
                [.eTag: "\"\(head.etag)\"", .lastModified: HTTPDate.rfc1123(milliseconds: head.lastModified)], 0..<0
            )
        case .preconditionFailed:
            throw S3Error(
                .preconditionFailed,
                "PreconditionFailed",
                "at least one of the preconditions you specified did not hold"
            )
        }
        for (parameter, header) in [
            ("response-content-type", "content-type"), ("response-content-disposition", "content-disposition"),
            ("response-cache-control", "cache-control"), ("response-content-encoding", "content-encoding"),
            ("response-content-language", "content-language"), ("response-expires", "expires"),
        ] {
            if let value = s3.query[parameter] { headers[HTTPField.Name(header)!] = value }
        }
        var range: Range<Int64> = 0..<head.size
        var status = HTTPResponse.Status.ok
        if let partNumber = s3.query["partNumber"] {
            guard let number = Int(partNumber), (1...10_000).contains(number) else {
                throw S3Error.invalidArgument("part number must be an integer between 1 and 10000, inclusive")
            }
            guard let partRange = reader.partRange(number) else {
                throw S3Error(
                    .badRequest,
                    "InvalidPart",
                    "the object has \(head.segments.count) part(s): part \(number) does not exist"
                )
            }
            range = partRange
            headers[HTTPField.Name("x-amz-mp-parts-count")!] = String(head.segments.count)
            if head.segments.count > 1 {
                status = .partialContent
                headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(head.size)"
            }
        } else if let rangeHeader = s3.header("range"), let requested = try byteRange(rangeHeader, size: head.size) {
            range = requested
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(head.size)"
        }
        if range.count != head.size {
            // Checksums cover the whole object, never a range.
            for algorithm in ChecksumAlgorithm.allCases { headers[HTTPField.Name(algorithm.headerName)!] = nil }
            headers[Self.checksumTypeHeader] = nil
        }
        headers[.contentLength] = String(range.count)
        return (status, headers, range)
    }

    static func objectHeaders(_ head: ObjectHead, checksums: Bool) -> HTTPFields {
        var headers: HTTPFields = [
            .eTag: "\"\(head.etag)\"", .lastModified: HTTPDate.rfc1123(milliseconds: head.lastModified),
            .acceptRanges: "bytes", .contentType: head.contentHeaders["content-type"] ?? "binary/octet-stream",
        ]
        for (name, value) in head.contentHeaders { headers[HTTPField.Name(name)!] = value }
        for (name, value) in head.userMetadata.sorted(by: { $0.key < $1.key }) {
            if let field = HTTPField.Name("x-amz-meta-\(name)") { headers[field] = RFC2047.encode(value) }
        }
        headers[HTTPField.Name(PalisadeHeaders.commitSequence)!] = String(head.commitSequence)
        if let fence = head.fence {
            headers[HTTPField.Name(PalisadeHeaders.lock)!] = fence.lock.rawValue
            headers[HTTPField.Name(PalisadeHeaders.fencingToken)!] = fence.token.description
        }
        if checksums { addChecksums(head.checksums, to: &headers) }
        return headers
    }

    static let checksumTypeHeader = HTTPField.Name("x-amz-checksum-type")!

    /// Stored checksums as `x-amz-checksum-*` headers, with their `x-amz-checksum-type`.
    static func addChecksums(_ checksums: [String: String], to headers: inout HTTPFields) {
        for (algorithm, value) in checksums {
            headers[HTTPField.Name("x-amz-checksum-\(algorithm)")!] = value
            headers[checksumTypeHeader] = ChecksumType(ofStoredValue: value).rawValue
        }
    }

    static func readPreconditions(of s3: S3Request) -> ReadPreconditions {
        ReadPreconditions(
            ifMatch: s3.header("if-match"),
            ifNoneMatch: s3.header("if-none-match"),
            ifModifiedSince: s3.header("if-modified-since").flatMap(HTTPDate.parse),
            ifUnmodifiedSince: s3.header("if-unmodified-since").flatMap(HTTPDate.parse)
        )
    }

    /// The byte range of a `Range: bytes=…` header; nil to serve the whole object (a header S3
    /// ignores); `InvalidRange` when it cannot be satisfied.
    static func byteRange(_ header: String, size: Int64) throws -> Range<Int64>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst("bytes=".count).split(
            separator: "-",
            maxSplits: 1,
            omittingEmptySubsequences: false
        )
        guard spec.count == 2 else { return nil }
        var unsatisfiable = S3Error(.rangeNotSatisfiable, "InvalidRange", "the requested range is not satisfiable")
        unsatisfiable.headers["content-range"] = "bytes */\(size)"
        if spec[0].isEmpty {
            guard let suffix = Int64(spec[1]) else { return nil }
            guard suffix > 0, size > 0 else { throw unsatisfiable }
            return max(0, size - suffix)..<size
        }
        guard let first = Int64(spec[0]), let last = spec[1].isEmpty ? Int64.max : Int64(spec[1]), last >= first else {
            return nil
        }
        guard first < size else { throw unsatisfiable }
        return first..<(last == Int64.max ? size : min(last + 1, size))
    }

    func deleteObject(bucket: String, key: String, s3: S3Request, accessKeyID: String) async throws -> Response {
        let name = try Self.writeName(of: s3, accessKeyID: accessKeyID)
        if let earlier = try await earlierAttempt(named: name, kind: .delete, bucket: bucket, key: key) {
            return Response(status: .noContent, headers: Self.replayedHeaders(earlier))
        }
        let sequence = try await store.delete(
            bucket: bucket,
            key: key,
            preconditions: Self.writePreconditions(of: s3),
            fence: try Self.fenceClaim(of: s3),
            writeName: name
        )
        var headers = HTTPFields()
        if let sequence { headers[HTTPField.Name(PalisadeHeaders.commitSequence)!] = String(sequence) }
        return Response(status: .noContent, headers: headers)
    }

    /// CopyObject: the destination gets a new version whose bytes are read from a snapshot of the source.
    func copyObject(bucket: String, key: String, s3: S3Request, accessKeyID: String) async throws -> Response {
        let (sourceBucket, sourceKey) = try Self.copySource(s3.header("x-amz-copy-source") ?? "")
        let name = try Self.writeName(of: s3, accessKeyID: accessKeyID)
        if let earlier = try await earlierAttempt(named: name, kind: .put, bucket: bucket, key: key) {
            return Self.copyResult(etag: earlier.etag ?? "", lastModified: nil, headers: Self.replayedHeaders(earlier))
        }
        let reader = try await store.open(bucket: sourceBucket, key: sourceKey)
        let head: ObjectHead
        do {
            head = try await copy(
                reader,
                toBucket: bucket,
                key: key,
                sameObject: sourceBucket == bucket && sourceKey == key,
                s3: s3,
                writeName: name
            )
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        var headers = HTTPFields()
        headers[HTTPField.Name(PalisadeHeaders.commitSequence)!] = String(head.commitSequence)
        return Self.copyResult(etag: head.etag, lastModified: head.lastModified, headers: headers)
    }

    /// A `CopyObjectResult` document; a replayed copy knows no LastModified of its own.
    static func copyResult(etag: String, lastModified: Int64?, headers: HTTPFields) -> Response {
        var headers = headers
        headers[.contentType] = "application/xml"
        let document = S3XML.document(
            "CopyObjectResult",
            (lastModified.map { [S3XML.Node.text("LastModified", HTTPDate.iso8601(milliseconds: $0))] } ?? [])
                + [.text("ETag", "\"\(etag)\"")]
        )
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    /// Writes a new version of `key` from the open source `reader`, as CopyObject's headers ask.
    func copy(
        _ reader: ObjectReader,
        toBucket bucket: String,
        key: String,
        sameObject: Bool,
        s3: S3Request,
        writeName: String? = nil
    ) async throws
        -> ObjectHead
    {
        let sourceHead = reader.head
        let conditions = ReadPreconditions(
            ifMatch: s3.header("x-amz-copy-source-if-match"),
            ifNoneMatch: s3.header("x-amz-copy-source-if-none-match"),
            ifModifiedSince: s3.header("x-amz-copy-source-if-modified-since").flatMap(HTTPDate.parse),
            ifUnmodifiedSince: s3.header("x-amz-copy-source-if-unmodified-since").flatMap(HTTPDate.parse)
        )
        guard conditions.evaluate(sourceHead) == .proceed else {
            throw S3Error(
                .preconditionFailed,
                "PreconditionFailed",
                "at least one of the preconditions you specified did not hold"
            )
        }
        let directive = s3.header("x-amz-metadata-directive")?.uppercased() ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else {
            throw S3Error.invalidArgument("unknown metadata directive \(directive)")
        }
        if directive == "COPY", sameObject {
            throw S3Error(
                .badRequest,
                "InvalidRequest",
                "this copy request is illegal because it is trying to copy an object to itself without changing the object's metadata"
            )
        }
        var put = try Self.putRequest(bucket: bucket, key: key, s3: s3)
        put.expectedMD5Base64 = nil
        put.expectedChecksums = [:]
        if directive == "COPY" {
            put.contentHeaders = sourceHead.contentHeaders
            put.userMetadata = sourceHead.userMetadata
        }
        put.checksumsToCompute = Set(sourceHead.checksums.keys.compactMap(ChecksumAlgorithm.init(rawValue:)))
        put.expectedSize = sourceHead.size
        put.writeName = writeName
        return try await store.put(put, body: reader.chunks(0..<sourceHead.size))
    }
}
