import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import PalisadeAuth
import StorageCore
import StorageEngine

extension S3Gateway {
    /// ListBuckets, by name; `prefix`, and pages of `max-buckets` (1–10 000) continued with the
    /// `continuation-token` the previous page answered.
    func listBuckets(_ s3: S3Request) async throws -> Response {
        let prefix = s3.query["prefix"] ?? ""
        var maxBuckets = 10_000
        if let text = s3.query["max-buckets"] {
            guard let value = Int(text), (1...10_000).contains(value) else {
                throw S3Error.invalidArgument("max-buckets must be an integer between 1 and 10000")
            }
            maxBuckets = value
        }
        var after = ""
        if let token = s3.query["continuation-token"] {
            guard let data = Data(base64Encoded: token), let name = String(data: data, encoding: .utf8) else {
                throw S3Error.invalidArgument("the continuation token provided is incorrect")
            }
            after = name
        }
        let matching = try await store.listBuckets().filter { $0.name.hasPrefix(prefix) && $0.name > after }
        let page = matching.prefix(maxBuckets)
        let buckets = page.map { bucket in
            S3XML.Node.element(
                "Bucket",
                [.text("Name", bucket.name), .text("CreationDate", HTTPDate.iso8601(milliseconds: bucket.created))]
            )
        }
        var nodes: [S3XML.Node] = [
            .element("Owner", [.text("ID", "palisade"), .text("DisplayName", "palisade")]),
            .element("Buckets", buckets),
        ]
        if matching.count > page.count, let last = page.last {
            nodes.append(.text("ContinuationToken", Data(last.name.utf8).base64EncodedString()))
        }
        if s3.query["prefix"] != nil { nodes.append(.text("Prefix", prefix)) }
        return Self.xml(S3XML.document("ListAllMyBucketsResult", nodes))
    }

    /// CreateBucket; a body, when sent, must be a `CreateBucketConfiguration` (its location is not
    /// kept). Creating a bucket you already own answers 200 and changes nothing in us-east-1 (S3's
    /// legacy rule, which clients retrying a creation rely on) and 409 `BucketAlreadyOwnedByYou`
    /// for a bucket asked for in another region.
    func createBucket(
        _ bucket: String,
        s3: S3Request,
        request: Request,
        verified: SigV4Verifier.Verified
    ) async throws -> Response {
        try UnsupportedFeatures.refuseInBucketCreation(s3)
        let body = try await Self.signedDocument(request, s3: s3, verified: verified, upTo: 64 * 1024)
        var region = "us-east-1"
        if !body.isEmpty {
            let document = try S3XML.parse(body)
            guard document.name == "CreateBucketConfiguration" else { throw S3Error.malformedXML }
            if let constraint = document.child("LocationConstraint")?.text, !constraint.isEmpty { region = constraint }
        }
        do {
            try await store.createBucket(bucket)
        } catch {
            // Already there, and ours: in us-east-1, the legacy answer is success.
            guard error.code == .bucketAlreadyOwnedByYou, region == "us-east-1" else { throw error }
        }
        return Response(status: .ok, headers: [.location: "/\(bucket)"])
    }

    /// ListObjects (V1, `marker`) and ListObjectsV2 (`list-type=2`, `continuation-token`, `start-after`).
    func listObjects(_ bucket: String, s3: S3Request, version: Int) async throws -> Response {
        let prefix = s3.query["prefix"] ?? ""
        let delimiter = s3.query["delimiter"].flatMap { $0.isEmpty ? nil : $0 }
        let encode = s3.query["encoding-type"] == "url"
        if let encoding = s3.query["encoding-type"], encoding != "url" {
            throw S3Error.invalidArgument("invalid Encoding Method specified in Request")
        }
        var maxKeys = 1000
        if let text = s3.query["max-keys"] {
            guard let value = Int(text), value >= 0 else {
                throw S3Error.invalidArgument("max-keys must be a number ≥ 0")
            }
            maxKeys = min(value, 1000)
        }
        var after = ""
        if version == 2 {
            if let token = s3.query["continuation-token"] {
                guard let data = Data(base64Encoded: token), let key = String(data: data, encoding: .utf8) else {
                    throw S3Error.invalidArgument("the continuation token provided is incorrect")
                }
                after = key
            } else {
                after = s3.query["start-after"] ?? ""
            }
        } else {
            after = s3.query["marker"] ?? ""
        }
        let page = try await store.list(
            bucket: bucket,
            prefix: prefix,
            delimiter: delimiter,
            after: after,
            maxKeys: maxKeys
        )
        func value(_ text: String) -> String { encode ? SigV4.uriEncode(text, keepSlash: true) : text }

        var nodes: [S3XML.Node] = [.text("Name", bucket), .text("Prefix", value(prefix))]
        if let delimiter { nodes.append(.text("Delimiter", value(delimiter))) }
        nodes.append(.text("MaxKeys", String(maxKeys)))
        if encode { nodes.append(.text("EncodingType", "url")) }
        nodes.append(.text("IsTruncated", String(page.isTruncated)))
        if version == 2 {
            nodes.append(.text("KeyCount", String(page.contents.count + page.commonPrefixes.count)))
            if let token = s3.query["continuation-token"] { nodes.append(.text("ContinuationToken", token)) }
            if let startAfter = s3.query["start-after"] { nodes.append(.text("StartAfter", value(startAfter))) }
            if page.isTruncated, let last = page.lastKey {
                nodes.append(.text("NextContinuationToken", Data(last.utf8).base64EncodedString()))
            }
        } else {
            nodes.append(.text("Marker", value(s3.query["marker"] ?? "")))
            if page.isTruncated, delimiter != nil, let last = page.lastKey {
                nodes.append(.text("NextMarker", value(last)))
            }
        }
        for head in page.contents {
            var fields: [S3XML.Node] = [
                .text("Key", value(head.key)), .text("LastModified", HTTPDate.iso8601(milliseconds: head.lastModified)),
                .text("ETag", "\"\(head.etag)\""), .text("Size", String(head.size)), .text("StorageClass", "STANDARD"),
            ]
            if version == 1 || s3.query["fetch-owner"] == "true" {
                fields.append(.element("Owner", [.text("ID", "palisade"), .text("DisplayName", "palisade")]))
            }
            nodes.append(.element("Contents", fields))
        }
        for common in page.commonPrefixes { nodes.append(.element("CommonPrefixes", [.text("Prefix", value(common))])) }
        return Self.xml(S3XML.document("ListBucketResult", nodes))
    }

    /// DeleteObjects: up to 1000 keys, each its own commit (conditional on its `ETag`, when given);
    /// quiet mode reports only errors.
    func deleteObjects(
        _ bucket: String,
        s3: S3Request,
        request: Request,
        verified: SigV4Verifier.Verified,
        policy: AccessPolicy
    ) async throws -> Response {
        let data = try await Self.signedDocument(request, s3: s3, verified: verified, upTo: 2 * 1024 * 1024)
        let document = try S3XML.parse(data)
        guard document.name == "Delete" else { throw S3Error.malformedXML }
        let objects = document.all("Object").compactMap { object in
            object.child("Key").map { key in
                (
                    key: key.text,
                    preconditions: WritePreconditions(
                        ifMatch: object.child("ETag").map { Self.unquoted(etag: $0.text) }
                    )
                )
            }
        }
        guard !objects.isEmpty, objects.count <= 1000, objects.count == document.all("Object").count else {
            throw S3Error(.badRequest, "MalformedXML", "a Delete request names 1 to 1000 objects, each with a Key")
        }
        try await store.requireBucket(bucket)
        let fence = try Self.fenceClaim(of: s3)
        let quiet = document.child("Quiet")?.text.lowercased() == "true"
        var results: [S3XML.Node] = []
        for (key, preconditions) in objects {
            do {
                try Self.require(
                    [.s3("s3:DeleteObject", bucket: bucket, key: key)],
                    policy: policy,
                    accessKeyID: verified.accessKeyID
                )
                try await store.delete(bucket: bucket, key: key, preconditions: preconditions, fence: fence)
                if !quiet { results.append(.element("Deleted", [.text("Key", key)])) }
            } catch {
                let failure = Self.s3Error(for: error)
                results.append(
                    .element(
                        "Error",
                        [.text("Key", key), .text("Code", failure.code), .text("Message", failure.message)]
                    )
                )
            }
        }
        return Self.xml(S3XML.document("DeleteResult", results))
    }
}
