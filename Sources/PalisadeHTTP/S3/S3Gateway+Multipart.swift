import Foundation
import HTTPTypes
import Hummingbird
import PalisadeAuth
import PalisadeIDs
import PalisadeProtocol
import StorageCore
import StorageEngine

extension S3Gateway {
    /// Routes `?uploads` (create) and `?uploadId=` (part, complete, abort, list parts) on a key.
    func routeMultipart(
        bucket: String,
        key: String,
        s3: S3Request,
        request: Request,
        verified: SigV4Verifier.Verified
    )
        async throws -> Response
    {
        guard let uploadID = s3.query["uploadId"] else {
            guard s3.method == .post else { throw S3Error.methodNotAllowed }
            let put = try Self.putRequest(bucket: bucket, key: key, s3: s3)
            let upload = try await store.createMultipartUpload(
                bucket: bucket,
                key: key,
                contentHeaders: put.contentHeaders,
                userMetadata: put.userMetadata,
                checksum: try Self.multipartChecksum(of: s3),
                fence: put.fence
            )
            var response = Self.xml(
                S3XML.document(
                    "InitiateMultipartUploadResult",
                    [.text("Bucket", bucket), .text("Key", key), .text("UploadId", upload.id)]
                )
            )
            if let checksum = upload.checksum {
                response.headers[HTTPField.Name("x-amz-checksum-algorithm")!] = checksum.algorithm.s3Name
                response.headers[Self.checksumTypeHeader] = checksum.type.rawValue
            }
            return response
        }
        guard RandomUUID.isWellFormed(hex: uploadID) else { throw StorageError.noSuchUpload(uploadID) }
        switch s3.method {
        case .put:
            return try await uploadPart(
                uploadID: uploadID,
                bucket: bucket,
                key: key,
                s3: s3,
                request: request,
                verified: verified
            )
        case .post:
            return try await completeUpload(
                uploadID: uploadID,
                bucket: bucket,
                key: key,
                s3: s3,
                request: request,
                verified: verified
            )
        case .delete:
            try await store.abortMultipartUpload(
                uploadID: uploadID,
                bucket: bucket,
                key: key,
                fence: try Self.fenceClaim(of: s3)
            )
            return Response(status: .noContent)
        case .get:
            return try await listParts(uploadID: uploadID, bucket: bucket, key: key, s3: s3)
        default:
            throw S3Error.methodNotAllowed
        }
    }

    /// UploadPart, and UploadPartCopy (`x-amz-copy-source`, optional `x-amz-copy-source-range`).
    func uploadPart(
        uploadID: String,
        bucket: String,
        key: String,
        s3: S3Request,
        request: Request,
        verified: SigV4Verifier.Verified
    ) async throws -> Response {
        guard let number = s3.query["partNumber"].flatMap(Int.init) else {
            throw S3Error.invalidArgument("partNumber must be an integer between 1 and 10000")
        }
        var put = try Self.putRequest(bucket: bucket, key: key, s3: s3)
        guard let copySource = s3.header("x-amz-copy-source") else {
            let body = try Self.uploadBody(s3, request: request, verified: verified, into: &put)
            let (part, algorithm) = try await store.uploadPart(
                uploadID: uploadID,
                number: number,
                request: put,
                body: body
            )
            var headers: HTTPFields = [.eTag: "\"\(part.etag)\""]
            if let checksum = part.checksum, let algorithm {
                headers[HTTPField.Name(algorithm.headerName)!] = checksum
            }
            return Response(status: .ok, headers: headers)
        }
        let (sourceBucket, sourceKey) = try Self.copySource(copySource)
        let reader = try await store.open(bucket: sourceBucket, key: sourceKey)
        let (part, algorithm): (UploadedPart, ChecksumAlgorithm?)
        do {
            var range: Range<Int64> = 0..<reader.head.size
            if let header = s3.header("x-amz-copy-source-range") {
                range = try Self.copySourceRange(header, size: reader.head.size)
            }
            put.expectedMD5Base64 = nil
            put.expectedChecksums = [:]
            put.expectedSize = Int64(range.count)
            (part, algorithm) = try await store.uploadPart(
                uploadID: uploadID,
                number: number,
                request: put,
                body: reader.chunks(range)
            )
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        var result: [S3XML.Node] = [
            .text("LastModified", HTTPDate.iso8601(milliseconds: part.lastModified)),
            .text("ETag", "\"\(part.etag)\""),
        ]
        if let checksum = part.checksum, let algorithm {
            result.append(.text(algorithm.elementName, checksum))
        }
        return Self.xml(S3XML.document("CopyPartResult", result))
    }

    /// The checksum a CreateMultipartUpload asks for: `x-amz-checksum-algorithm`, with
    /// `x-amz-checksum-type` or the algorithm's default type.
    static func multipartChecksum(of s3: S3Request) throws -> MultipartChecksum? {
        let type = try checksumType(of: s3)
        guard let name = s3.header("x-amz-checksum-algorithm") else {
            guard type == nil else {
                throw S3Error(
                    .badRequest,
                    "InvalidRequest",
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                )
            }
            return nil
        }
        guard let algorithm = ChecksumAlgorithm(rawValue: name.lowercased()) else {
            throw S3Error(.badRequest, "InvalidRequest", "Value for x-amz-checksum-algorithm header is invalid.")
        }
        let checksum = MultipartChecksum(algorithm: algorithm, type: type ?? algorithm.defaultMultipartType)
        guard algorithm.supports(checksum.type) else {
            throw S3Error(
                .badRequest,
                "InvalidRequest",
                "The \(checksum.type.rawValue) checksum type cannot be used with the \(algorithm.rawValue) checksum algorithm."
            )
        }
        return checksum
    }

    /// The `x-amz-checksum-type` of a request, when it has one.
    static func checksumType(of s3: S3Request) throws -> ChecksumType? {
        try s3.header("x-amz-checksum-type").map { value in
            guard let type = ChecksumType(rawValue: value.uppercased()) else {
                throw S3Error(.badRequest, "InvalidRequest", "Value for x-amz-checksum-type header is invalid.")
            }
            return type
        }
    }

    /// What a CompleteMultipartUpload's headers claim of the object it makes.
    static func completionClaims(of s3: S3Request) throws -> CompletionClaims {
        var claims = CompletionClaims(checksumType: try checksumType(of: s3))
        let sent = ChecksumAlgorithm.allCases.compactMap { algorithm in
            s3.header(algorithm.headerName).map { (algorithm, $0) }
        }
        guard sent.count <= 1 else {
            throw S3Error(.badRequest, "InvalidRequest", "Expecting a single x-amz-checksum- header")
        }
        claims.checksum = sent.first.map { (algorithm: $0.0, value: $0.1) }
        if let size = s3.header("x-amz-mp-object-size") {
            guard let value = Int64(size), value >= 0 else {
                throw S3Error.invalidArgument("x-amz-mp-object-size must be a non-negative integer")
            }
            claims.objectSize = value
        }
        return claims
    }

    func completeUpload(
        uploadID: String,
        bucket: String,
        key: String,
        s3: S3Request,
        request: Request,
        verified: SigV4Verifier.Verified
    ) async throws -> Response {
        let body = try await Self.signedDocument(request, s3: s3, verified: verified, upTo: 4 * 1024 * 1024)
        let document = try S3XML.parse(body)
        guard document.name == "CompleteMultipartUpload" else { throw S3Error.malformedXML }
        var parts: [RequestedPart] = []
        for element in document.all("Part") {
            guard
                let number = element.child("PartNumber").flatMap({ Int($0.text.trimmingCharacters(in: .whitespaces)) }),
                let etag = element.child("ETag")?.text
            else {
                throw S3Error(.badRequest, "MalformedXML", "each Part needs a PartNumber and an ETag")
            }
            let checksum = ChecksumAlgorithm.allCases.lazy.compactMap { element.child($0.elementName)?.text }.first
            parts.append(
                RequestedPart(
                    number: number,
                    etag: Self.unquoted(etag: etag),
                    checksum: checksum?.trimmingCharacters(in: .whitespaces)
                )
            )
        }
        let writeName = try Self.writeName(of: s3, accessKeyID: verified.accessKeyID)
        if let earlier = try await earlierCompletion(of: uploadID, writeName: writeName, bucket: bucket, key: key) {
            return Self.completionResult(
                bucket: bucket,
                key: key,
                etag: earlier.etag ?? "",
                headers: Self.replayedHeaders(earlier)
            )
        }
        let head = try await store.completeMultipartUpload(
            uploadID: uploadID,
            bucket: bucket,
            key: key,
            parts: parts,
            claims: try Self.completionClaims(of: s3),
            preconditions: Self.writePreconditions(of: s3),
            fence: try Self.fenceClaim(of: s3),
            writeName: writeName
        )
        var headers = HTTPFields()
        headers[HTTPField.Name(PalisadeHeaders.commitSequence)!] = String(head.commitSequence)
        return Self.completionResult(
            bucket: bucket,
            key: key,
            etag: head.etag,
            checksums: head.checksums,
            headers: headers
        )
    }

    /// The completion of `uploadID` that committed already (a client retrying after a lost answer
    /// gets the same result, and nothing changes), found by the upload's own record or the write id.
    func earlierCompletion(
        of uploadID: String,
        writeName: String?,
        bucket: String,
        key: String
    ) async throws -> CommittedWrite? {
        let completion = try await store.writeRecord(named: ObjectStore.completionName(of: uploadID))
        if let committed = completion?.committed {
            guard committed.bucket == bucket, committed.key == key else { throw StorageError.noSuchUpload(uploadID) }
            return committed
        }
        return try await earlierAttempt(named: writeName, kind: .put, bucket: bucket, key: key)
    }

    static func completionResult(
        bucket: String,
        key: String,
        etag: String,
        checksums: [String: String] = [:],
        headers: HTTPFields
    ) -> Response {
        var headers = headers
        headers[.contentType] = "application/xml"
        var nodes: [S3XML.Node] = [
            .text("Location", "/\(bucket)/\(key)"), .text("Bucket", bucket), .text("Key", key),
            .text("ETag", "\"\(etag)\""),
        ]
        for (name, value) in checksums {
            guard let algorithm = ChecksumAlgorithm(rawValue: name) else { continue }
            nodes += [
                .text(algorithm.elementName, value), .text("ChecksumType", ChecksumType(ofStoredValue: value).rawValue),
            ]
        }
        let result = S3XML.document("CompleteMultipartUploadResult", nodes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: result)))
    }

    func listParts(uploadID: String, bucket: String, key: String, s3: S3Request) async throws -> Response {
        let marker = Int(s3.query["part-number-marker"] ?? "0") ?? 0
        let maxParts = min(Int(s3.query["max-parts"] ?? "1000") ?? 1000, 1000)
        let (upload, parts, isTruncated) = try await store.listParts(
            uploadID: uploadID,
            bucket: bucket,
            key: key,
            after: marker,
            maxParts: maxParts
        )
        var nodes: [S3XML.Node] = [
            .text("Bucket", bucket), .text("Key", key), .text("UploadId", uploadID),
            .text("PartNumberMarker", String(marker)), .text("MaxParts", String(maxParts)),
            .text("IsTruncated", String(isTruncated)),
        ]
        if let last = parts.last { nodes.append(.text("NextPartNumberMarker", String(last.number))) }
        if let checksum = upload.checksum {
            nodes += [
                .text("ChecksumAlgorithm", checksum.algorithm.s3Name), .text("ChecksumType", checksum.type.rawValue),
            ]
        }
        for part in parts {
            var fields: [S3XML.Node] = [
                .text("PartNumber", String(part.number)),
                .text("LastModified", HTTPDate.iso8601(milliseconds: part.lastModified)),
                .text("ETag", "\"\(part.etag)\""), .text("Size", String(part.size)),
            ]
            if let checksum = part.checksum, let algorithm = upload.checksum?.algorithm {
                fields.append(.text(algorithm.elementName, checksum))
            }
            nodes.append(.element("Part", fields))
        }
        return Self.xml(S3XML.document("ListPartsResult", nodes))
    }

    func listMultipartUploads(_ bucket: String, s3: S3Request) async throws -> Response {
        let prefix = s3.query["prefix"] ?? ""
        let maxUploads = min(Int(s3.query["max-uploads"] ?? "1000") ?? 1000, 1000)
        let (uploads, isTruncated) = try await store.listMultipartUploads(
            bucket: bucket,
            prefix: prefix,
            maxUploads: maxUploads
        )
        var nodes: [S3XML.Node] = [
            .text("Bucket", bucket), .text("KeyMarker", ""), .text("UploadIdMarker", ""), .text("Prefix", prefix),
            .text("MaxUploads", String(maxUploads)), .text("IsTruncated", String(isTruncated)),
        ]
        for upload in uploads {
            nodes.append(
                .element(
                    "Upload",
                    [
                        .text("Key", upload.key), .text("UploadId", upload.id),
                        .text("Initiated", HTTPDate.iso8601(milliseconds: upload.initiated)),
                        .text("StorageClass", "STANDARD"),
                    ]
                )
            )
        }
        return Self.xml(S3XML.document("ListMultipartUploadsResult", nodes))
    }

    /// The bytes of an `x-amz-copy-source-range` header, `bytes=first-last` within an object of `size`.
    static func copySourceRange(_ header: String, size: Int64) throws -> Range<Int64> {
        let bounds = header.hasPrefix("bytes=") ? header.dropFirst("bytes=".count).split(separator: "-") : []
        guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first <= last else {
            throw S3Error.invalidArgument(
                "the x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
            )
        }
        guard first >= 0, last < size else {
            throw S3Error.invalidArgument("range specified is not valid for source object of size: \(size)")
        }
        return first..<(last + 1)
    }

    /// The bucket and key of an `x-amz-copy-source` header: `/bucket/key` or `bucket/key`, URL-encoded,
    /// optionally followed by `?versionId=…`. It is split at its first `?` before it is decoded, so a
    /// key holding an encoded `?` (`what%3Fx`) is a key.
    static func copySource(_ header: String) throws -> (bucket: String, key: String) {
        let mark = header.firstIndex(of: "?")
        if let mark, !header[header.index(after: mark)...].hasPrefix("versionId=null") {
            throw S3Error.notImplemented("copying a specific version")
        }
        guard var source = SigV4.percentDecodeExactly(String(header[..<(mark ?? header.endIndex)])) else {
            throw S3Error.invalidArgument("x-amz-copy-source does not decode to UTF-8")
        }
        if source.hasPrefix("/") { source.removeFirst() }
        guard let slash = source.firstIndex(of: "/"), slash != source.startIndex,
            source.index(after: slash) != source.endIndex
        else {
            throw S3Error.invalidArgument("x-amz-copy-source must be bucket/key")
        }
        let key = String(source[source.index(after: slash)...])
        try StorageError.requireValidKey(key)
        return (String(source[..<slash]), key)
    }
}
