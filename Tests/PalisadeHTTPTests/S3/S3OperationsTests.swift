import Foundation
import PalisadeTestSupport
import Testing

extension S3TestClient.Answer {
    /// The texts of every `<name>` element, in order.
    func values(of name: String) -> [String] {
        text.components(separatedBy: "<\(name)>").dropFirst().compactMap {
            $0.components(separatedBy: "</\(name)>").first
        }
    }
}

@Suite("S3 gateway operations against a live server")
struct S3OperationsTests {
    @Test("metadata that is not US-ASCII is stored decoded and returned as an RFC 2047 word, as S3 does")
    func nonASCIIMetadata() async throws {
        try await withTestServer { server in
            let s3 = server.s3
            _ = try await s3.send("PUT", "/meta")
            let put = try await s3.send(
                "PUT",
                "/meta/k",
                headers: [
                    ("x-amz-meta-raw", "Zürich"), ("x-amz-meta-q", "=?UTF-8?Q?Z=C3=BCrich?="),
                    ("x-amz-meta-b", "=?UTF-8?B?5p2x5Lqs?="), ("x-amz-meta-plain", "just ascii"),
                    ("x-amz-meta-odd", "=?ISO-8859-1?Q?caf=E9?="),
                ],
                body: [1]
            )
            #expect(put.status == 200)
            let head = try await s3.send("HEAD", "/meta/k")
            #expect(head.header("x-amz-meta-raw") == "=?UTF-8?B?WsO8cmljaA==?=")
            #expect(head.header("x-amz-meta-q") == "=?UTF-8?B?WsO8cmljaA==?=")
            #expect(head.header("x-amz-meta-b") == "=?UTF-8?B?5p2x5Lqs?=")
            #expect(head.header("x-amz-meta-plain") == "just ascii")
            #expect(head.header("x-amz-meta-odd") == "=?ISO-8859-1?Q?caf=E9?=", "only UTF-8 words are decoded")
        }
    }

    @Test("buckets: create, list, head, location, delete; naming rules and non-empty buckets")
    func buckets() async throws {
        try await withTestServer { server in
            let s3 = server.s3
            #expect(try await s3.send("PUT", "/alpha").status == 200)
            #expect(try await s3.send("PUT", "/alpha").status == 200)
            let elsewhere = Array(
                "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
                    .utf8
            )
            #expect(try await s3.send("PUT", "/alpha", body: elsewhere).errorCode == "BucketAlreadyOwnedByYou")
            #expect(try await s3.send("PUT", "/no").errorCode == "InvalidBucketName")
            #expect(try await s3.send("GET", "/").values(of: "Name") == ["alpha"])
            #expect(try await s3.send("HEAD", "/alpha").status == 200)
            #expect(try await s3.send("HEAD", "/beta").status == 404)
            #expect(try await s3.send("GET", "/alpha", query: "location").text.contains("<LocationConstraint"))
            _ = try await s3.send("PUT", "/alpha/x", body: [1])
            #expect(try await s3.send("DELETE", "/alpha").errorCode == "BucketNotEmpty")
            _ = try await s3.send("DELETE", "/alpha/x")
            #expect(try await s3.send("DELETE", "/alpha").status == 204)
        }
    }

    @Test("keys are safe whatever they contain: ../, unicode, 1024 bytes; 1025 bytes are refused")
    func keys() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            for key in ["../x", "a/../../etc/passwd", "ünïcødé/日本", String(repeating: "k", count: 1024)] {
                let path = "/bucket/" + key.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                #expect(try await server.s3.send("PUT", path, body: Array(key.utf8)).status == 200)
                #expect(try await server.s3.send("GET", path).text == key)
            }
            let tooLong = try await server.s3.send("PUT", "/bucket/" + String(repeating: "k", count: 1025), body: [1])
            #expect(tooLong.status == 400 && tooLong.errorCode == "KeyTooLongError")
            #expect(!FileManager.default.fileExists(atPath: server.dataDirectory + "/x"))
        }
    }

    @Test("metadata round trip, commit sequences, ranges and conditional reads")
    func objectsAndReads() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let s3 = server.s3
            let put = try await s3.send(
                "PUT",
                "/bucket/doc",
                headers: [("content-type", "text/plain"), ("x-amz-meta-owner", "ops"), ("cache-control", "no-store")],
                body: Array("0123456789".utf8)
            )
            let etag = try #require(put.header("etag"))
            let first = try #require(put.header("x-palisade-commit-sequence").flatMap(UInt64.init))
            let head = try await s3.send("HEAD", "/bucket/doc")
            #expect(head.header("content-type") == "text/plain" && head.header("x-amz-meta-owner") == "ops")
            #expect(head.header("cache-control") == "no-store" && head.header("content-length") == "10")
            #expect(head.header("last-modified")?.hasSuffix("GMT") == true)
            #expect(try await s3.send("GET", "/bucket/doc", headers: [("range", "bytes=3-5")]).text == "345")
            #expect(try await s3.send("GET", "/bucket/doc", headers: [("range", "bytes=-2")]).text == "89")
            #expect(try await s3.send("GET", "/bucket/doc", headers: [("range", "bytes=20-")]).status == 416)
            #expect(try await s3.send("GET", "/bucket/doc", headers: [("if-none-match", etag)]).status == 304)
            #expect(try await s3.send("GET", "/bucket/doc", headers: [("if-match", "\"other\"")]).status == 412)
            let since = try #require(head.header("last-modified"))
            #expect(try await s3.send("GET", "/bucket/doc", headers: [("if-modified-since", since)]).status == 304)
            #expect(
                try await s3.send("GET", "/bucket/doc", query: "response-content-type=x%2Fy").header("content-type")
                    == "x/y"
            )
            let second = try await s3.send("PUT", "/bucket/doc", body: Array("new".utf8))
            #expect((second.header("x-palisade-commit-sequence").flatMap(UInt64.init) ?? 0) > first)
        }
    }

    @Test("conditional writes: If-None-Match * and If-Match on PUT, If-Match on DELETE")
    func conditionalWrites() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let s3 = server.s3
            let created = try await s3.send("PUT", "/bucket/c", headers: [("if-none-match", "*")], body: [1])
            #expect(created.status == 200)
            #expect(try await s3.send("PUT", "/bucket/c", headers: [("if-none-match", "*")], body: [2]).status == 412)
            let etag = try #require(created.header("etag"))
            #expect(
                try await s3.send("PUT", "/bucket/c", headers: [("if-match", "\"stale\"")], body: [3]).status == 412
            )
            #expect(try await s3.send("DELETE", "/bucket/c", headers: [("if-match", "\"stale\"")]).status == 412)
            #expect(try await s3.send("GET", "/bucket/c").body == .init(bytes: [1]))
            #expect(try await s3.send("DELETE", "/bucket/c", headers: [("if-match", etag)]).status == 204)
            #expect(try await s3.send("HEAD", "/bucket/c").status == 404)
        }
    }

    @Test("listings: V2 with delimiter and continuation, V1 with marker, url encoding")
    func listings() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            for key in ["a/1", "a/2", "b", "c d", "é"] {
                _ = try await server.s3.send(
                    "PUT",
                    "/bucket/" + key.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
                    body: [1]
                )
            }
            let grouped = try await server.s3.send("GET", "/bucket", query: "delimiter=%2F&list-type=2")
            #expect(grouped.values(of: "Prefix").contains("a/"))
            #expect(grouped.values(of: "Key") == ["b", "c d", "é"])
            let page = try await server.s3.send("GET", "/bucket", query: "list-type=2&max-keys=2")
            #expect(page.values(of: "Key") == ["a/1", "a/2"] && page.values(of: "IsTruncated") == ["true"])
            let token = try #require(page.values(of: "NextContinuationToken").first)
            let next = try await server.s3.send(
                "GET",
                "/bucket",
                query:
                    "continuation-token=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&list-type=2"
            )
            #expect(next.values(of: "Key") == ["b", "c d", "é"])
            #expect(try await server.s3.send("GET", "/bucket", query: "marker=b").values(of: "Key") == ["c d", "é"])
            let encoded = try await server.s3.send("GET", "/bucket", query: "encoding-type=url&list-type=2&prefix=c")
            #expect(encoded.values(of: "Key") == ["c%20d"])
        }
    }

    @Test("copy and DeleteObjects")
    func copyAndBatchDelete() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let s3 = server.s3
            _ = try await s3.send("PUT", "/bucket/src", headers: [("x-amz-meta-a", "1")], body: Array("payload".utf8))
            let copy = try await s3.send("PUT", "/bucket/dst", headers: [("x-amz-copy-source", "/bucket/src")])
            #expect(copy.status == 200 && copy.text.contains("<CopyObjectResult"))
            let copied = try await s3.send("GET", "/bucket/dst")
            #expect(copied.text == "payload" && copied.header("x-amz-meta-a") == "1")
            let replaced = try await s3.send(
                "PUT",
                "/bucket/dst",
                headers: [
                    ("x-amz-copy-source", "bucket/src"), ("x-amz-metadata-directive", "REPLACE"), ("x-amz-meta-b", "2"),
                ]
            )
            #expect(replaced.status == 200)
            let head = try await s3.send("HEAD", "/bucket/dst")
            #expect(head.header("x-amz-meta-b") == "2" && head.header("x-amz-meta-a") == nil)
            #expect(
                try await s3.send("PUT", "/bucket/src", headers: [("x-amz-copy-source", "bucket/src")]).errorCode
                    == "InvalidRequest"
            )
            #expect(
                try await s3.send("PUT", "/bucket/x", headers: [("x-amz-copy-source", "bucket/nothing")]).errorCode
                    == "NoSuchKey"
            )
            let batch =
                "<Delete><Object><Key>src</Key></Object><Object><Key>dst</Key></Object><Object><Key>none</Key></Object></Delete>"
            let deleted = try await s3.send("POST", "/bucket", query: "delete", body: Array(batch.utf8))
            #expect(Set(deleted.values(of: "Key")) == ["src", "dst", "none"])
            let quiet = try await s3.send(
                "POST",
                "/bucket",
                query: "delete",
                body: Array("<Delete><Quiet>true</Quiet><Object><Key>src</Key></Object></Delete>".utf8)
            )
            #expect(quiet.values(of: "Key").isEmpty)
            #expect(try await s3.send("GET", "/bucket", query: "list-type=2").values(of: "Key").isEmpty)
        }
    }

    @Test("multipart: create, upload, list, complete with conditions, get a part, abort")
    func multipart() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let s3 = server.s3
            _ = try await s3.send("PUT", "/bucket/mp", body: Array("existing".utf8))
            let created = try await s3.send(
                "POST",
                "/bucket/mp",
                query: "uploads",
                headers: [("content-type", "video/mp4")]
            )
            let upload = try #require(created.values(of: "UploadId").first)
            let big = [UInt8](repeating: 7, count: 5 * 1024 * 1024)
            let one = try await s3.send("PUT", "/bucket/mp", query: "partNumber=1&uploadId=\(upload)", body: big)
            let two = try await s3.send(
                "PUT",
                "/bucket/mp",
                query: "partNumber=2&uploadId=\(upload)",
                body: Array("end".utf8)
            )
            let parts = try await s3.send("GET", "/bucket/mp", query: "uploadId=\(upload)")
            #expect(parts.values(of: "PartNumber") == ["1", "2"])
            #expect(try await s3.send("GET", "/bucket", query: "uploads").values(of: "UploadId") == [upload])
            let complete = """
                <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(one.header("etag")!)</ETag></Part>\
                <Part><PartNumber>2</PartNumber><ETag>\(two.header("etag")!)</ETag></Part></CompleteMultipartUpload>
                """
            let refused = try await s3.send(
                "POST",
                "/bucket/mp",
                query: "uploadId=\(upload)",
                headers: [("if-none-match", "*")],
                body: Array(complete.utf8)
            )
            #expect(refused.status == 412, "the key exists, so If-None-Match: * refuses the completion")
            let done = try await s3.send("POST", "/bucket/mp", query: "uploadId=\(upload)", body: Array(complete.utf8))
            #expect(done.status == 200 && done.values(of: "ETag").first?.hasSuffix("-2&quot;") == true)
            let whole = try await s3.send("GET", "/bucket/mp")
            #expect(whole.body.readableBytes == big.count + 3 && whole.header("content-type") == "video/mp4")
            let part = try await s3.send("GET", "/bucket/mp", query: "partNumber=2")
            #expect(part.text == "end" && part.header("x-amz-mp-parts-count") == "2")

            let other = try #require(
                try await s3.send("POST", "/bucket/o", query: "uploads").values(of: "UploadId").first
            )
            #expect(try await s3.send("DELETE", "/bucket/o", query: "uploadId=\(other)").status == 204)
            #expect(try await s3.send("GET", "/bucket/o", query: "uploadId=\(other)").errorCode == "NoSuchUpload")
        }
    }
}
