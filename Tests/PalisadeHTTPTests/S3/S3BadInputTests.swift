import Foundation
import PalisadeAuth
import PalisadeTestSupport
import Testing

/// The number of blob files in a server's data folder.
func blobFiles(_ server: TestServer<ContinuousClock>) throws -> Int {
    let root = server.dataDirectory + "/blobs"
    return try FileManager.default.contentsOfDirectory(atPath: root).reduce(0) {
        $0 + (try FileManager.default.contentsOfDirectory(atPath: root + "/" + $1).count)
    }
}

/// Creates the bucket `bucket` on the server.
func makeBucket(_ server: TestServer<ContinuousClock>, _ bucket: String = "bucket") async throws {
    let answer = try await server.s3.send("PUT", "/\(bucket)")
    try #require(answer.status == 200, "\(answer.text)")
}

/// Expects `key` to be absent, no blob left on disk, and the server still answering.
func expectNothingCommitted(_ server: TestServer<ContinuousClock>, key: String) async throws {
    #expect(try await server.s3.send("HEAD", "/bucket/\(key)").status == 404)
    #expect(try blobFiles(server) == 0)
    #expect(try await server.s3.send("GET", "/").status == 200)
}

@Suite("S3 gateway: bad input gets an S3 error, commits nothing, and the server keeps serving")
struct S3BadInputTests {
    @Test("errors are S3 XML with Code, Message, Resource and the request id")
    func errorShape() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let answer = try await server.s3.send("GET", "/bucket/missing%20key")
            #expect(answer.status == 404)
            #expect(answer.header("content-type") == "application/xml")
            #expect(answer.errorCode == "NoSuchKey")
            #expect(answer.text.contains("<Resource>/bucket/missing key</Resource>"))
            let requestID = try #require(answer.header("x-amz-request-id"))
            #expect(answer.text.contains("<RequestId>\(requestID)</RequestId>"))
            #expect(try await server.s3.send("GET", "/nobucket/key").errorCode == "NoSuchBucket")
            #expect(try await server.s3.send("PUT", "/Invalid_Bucket").errorCode == "InvalidBucketName")
            #expect(try await server.s3.send("GET", "/bucket", query: "acl").status == 501)
            #expect(try await server.s3.send("GET", "/", signed: false).errorCode == "AccessDenied")
        }
    }

    @Test("an x-amz-* header added to a signed request is refused: a PUT cannot be turned into a copy in flight")
    func unsignedAmzHeaders() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            _ = try await server.s3.send("PUT", "/bucket/source", body: Array("source".utf8))
            _ = try await server.s3.send("PUT", "/bucket/target", body: Array("target".utf8))
            for added in [("x-amz-copy-source", "bucket/source"), ("x-amz-meta-owner", "mallory")] {
                let answer = try await server.s3.send(
                    "PUT",
                    "/bucket/target",
                    body: Array("signed body".utf8),
                    addedAfterSigning: [added]
                )
                #expect(answer.status == 403 && answer.errorCode == "AccessDenied", "\(added.0): \(answer.text)")
                #expect(answer.text.contains(added.0))
            }
            let lock = try await RawLockAPI(server: server).send(
                "POST",
                "/_palisade/v1/leases",
                json: ["ttl_ms": 10_000],
                addedAfterSigning: [("x-amz-meta-x", "y")]
            )
            #expect(lock.status == 403 && lock.code == "HeadersNotSigned")
            #expect(try await server.s3.send("GET", "/bucket/target").text == "target", "nothing was written")
            #expect(
                try await server.s3.send("PUT", "/bucket/signed", headers: [("x-amz-meta-owner", "alice")], body: [1])
                    .status == 200,
                "signed x-amz-* headers are accepted"
            )
        }
    }

    @Test("a body that does not match Content-MD5 or x-amz-content-sha256 commits nothing")
    func digests() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let md5 = try await server.s3.send(
                "PUT",
                "/bucket/k",
                headers: [("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")],
                body: Array("data".utf8)
            )
            #expect(md5.status == 400 && md5.errorCode == "BadDigest")
            let sha = try await server.s3.send(
                "PUT",
                "/bucket/k",
                body: Array("data".utf8),
                payload: .declared(String(repeating: "0", count: 64))
            )
            #expect(sha.status == 400 && sha.errorCode == "XAmzContentSHA256Mismatch")
            try await expectNothingCommitted(server, key: "k")
        }
    }

    @Test("signed aws-chunked uploads: a good one commits whole, a tampered chunk is refused and commits nothing")
    func chunkSignatures() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            let good = try await server.s3.putSignedChunked("/bucket/good", data: data, chunkSize: 65536)
            #expect(good.status == 200, "\(good.text)")
            #expect(try await server.s3.send("GET", "/bucket/good").body == .init(bytes: data))
            let tampered = try await server.s3.putSignedChunked(
                "/bucket/bad",
                data: data,
                chunkSize: 65536,
                tamperWithChunk: 2
            )
            #expect(tampered.status == 403 && tampered.errorCode == "SignatureDoesNotMatch")
            #expect(try await server.s3.send("HEAD", "/bucket/bad").status == 404)
            #expect(try blobFiles(server) == 1)
        }
    }

    @Test("a truncated body (the client closes before Content-Length bytes) commits nothing")
    func truncatedBody() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let head = server.s3.signedRequestHead("PUT", "/bucket/truncated", headers: [("content-length", "1000")])
            let bytes = Array(head.utf8) + Array(repeating: 65, count: 10)
            let answer = await rawExchange(port: server.port, bytes, closeWriteSide: true)
            #expect(answer.hasPrefix("HTTP/1.1 400"), "answer: \(answer.prefix(200))")
            #expect(answer.contains("<Code>IncompleteBody</Code>"))
            try await expectNothingCommitted(server, key: "truncated")
        }
    }

    @Test("a PUT streamed in HTTP chunks without Content-Length is stored whole; one with neither is refused (411)")
    func chunkedWithoutContentLength() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let chunked = server.s3.signedRequestHead("PUT", "/bucket/k", headers: [("transfer-encoding", "chunked")])
            let stored = await rawExchange(
                port: server.port,
                Array((chunked + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").utf8),
                closeWriteSide: true
            )
            #expect(stored.hasPrefix("HTTP/1.1 200"), "answer: \(stored.prefix(200))")
            #expect(try await server.s3.send("GET", "/bucket/k").text == "hello world")
            let neither = server.s3.signedRequestHead("PUT", "/bucket/none", headers: [])
            let refused = await rawExchange(port: server.port, Array(neither.utf8), closeWriteSide: true)
            #expect(refused.hasPrefix("HTTP/1.1 411"), "answer: \(refused.prefix(200))")
            #expect(refused.contains("<Code>MissingContentLength</Code>"))
            #expect(try await server.s3.send("HEAD", "/bucket/none").status == 404)
        }
    }

    @Test(
        "a request the HTTP parser rejects gets 400 with an S3 error, and the server keeps serving",
        arguments: [
            "GET / HTTP/1.1\r\nhost: x\r\nx-huge: " + String(repeating: "a", count: 200_000) + "\r\n\r\n",
            "PUT /bucket/k HTTP/1.1\r\nhost: x\r\ncontent-length: ten\r\n\r\n",
            "PUT /bucket/k HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n",
            "PUT /bucket/k HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
            "NOT A REQUEST\r\n\r\n",
            "PUT /bucket/k HTTP/1.1\r\nhost: x\r\ncontent-length: \r\n\r\n",
            "GET / HTTP/1.1\r\nhost: x\r\n" + String(repeating: "x-many: 1\r\n", count: 5000) + "\r\n",
            "BREW /bucket/k HTTP/1.1\r\nhost: x\r\n\r\n",
            "GET / HTTP/1.1\nhost: x\n\n",
        ]
    )
    func parserRejections(request: String) async throws {
        try await withTestServer { server in
            let answer = await rawExchange(port: server.port, Array(request.utf8), closeWriteSide: true)
            #expect(answer.hasPrefix("HTTP/1.1 400"), "answer: \(answer.prefix(120))")
            #expect(answer.contains("<Code>BadRequest</Code>"))
            let afterwards = try await server.s3.send("GET", "/")
            #expect(afterwards.status == 200)
        }
    }

    @Test("malformed DeleteObjects XML is refused with MalformedXML")
    func malformedXML() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let bodies =
                ["<Delete><Object><Key>a</Key></Object>", "not xml", "<Other/>", "<Delete></Delete>"].map {
                    Array($0.utf8)
                }
                // Each crashed Foundation's XML parser (Fuzz/S3XMLFuzzer): an element name that is not
                // UTF-8, a processing instruction without data.
                + [Array("<Delete><Object><Key".utf8) + [0xb7, 0xb7, 0xb7] + Array(">a</Key></Object></Delete>".utf8)]
                + [Array("<?pi?><Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete".utf8)]
                // No entity is ever defined, so none is expanded.
                + [Array(#"<!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>"#.utf8)]
            for body in bodies {
                let answer = try await server.s3.send("POST", "/bucket", query: "delete", body: body)
                #expect(answer.status == 400 && answer.errorCode == "MalformedXML", "\(body): \(answer.text)")
            }
        }
    }

    @Test("a DeleteObjects body with a declaration, comments, CDATA, references and a namespace prefix is read")
    func xmlForms() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            for key in ["a<b", "c&d", "é"] {
                _ = try await server.s3.send("PUT", "/bucket/\(SigV4.uriEncode(key))", body: [1])
            }
            let body = #"""
                <?xml version="1.0" encoding="UTF-8"?>
                <!-- keys to delete -->
                <s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">
                  <s3:Object><s3:Key><![CDATA[a<b]]></s3:Key></s3:Object>
                  <s3:Object><s3:Key>c&amp;d</s3:Key></s3:Object>
                  <s3:Object><s3:Key>&#xE9;</s3:Key></s3:Object>
                </s3:Delete>
                """#
            let answer = try await server.s3.send("POST", "/bucket", query: "delete", body: Array(body.utf8))
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.text.components(separatedBy: "<Deleted>").count == 4, "\(answer.text)")
        }
    }

    @Test("presigned URLs: a valid one works, an expired or altered one gets 403")
    func presigned() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            _ = try await server.s3.send("PUT", "/bucket/p", body: Array("shared".utf8))
            let signer = server.s3.signer
            let valid = signer.presignedQuery(
                method: "GET",
                path: "/bucket/p",
                host: server.s3.host,
                expires: .seconds(60)
            )
            #expect(try await server.s3.send("GET", "/bucket/p", query: valid, signed: false).text == "shared")
            let old = signer.presignedQuery(
                method: "GET",
                path: "/bucket/p",
                host: server.s3.host,
                expires: .seconds(60),
                date: Date().addingTimeInterval(-120)
            )
            let expired = try await server.s3.send("GET", "/bucket/p", query: old, signed: false)
            #expect(expired.status == 403 && expired.errorCode == "AccessDenied")
            let altered = try await server.s3.send("GET", "/bucket/other", query: valid, signed: false)
            #expect(altered.status == 403 && altered.errorCode == "SignatureDoesNotMatch")
        }
    }
}

@Suite("S3 gateway addressing")
struct S3AddressingTests {
    @Test("virtual-host style: a Host of bucket.domain names the bucket, and the whole path is the key")
    func virtualHost() async throws {
        try await withTestServer { server in
            try await makeBucket(server, "vhost")
            let virtual = S3TestClient(
                endpoint: server.endpoint,
                credentials: server.credentials,
                host: "vhost.\(testVirtualHostDomain):\(server.port)"
            )
            #expect(try await virtual.send("PUT", "/dir/key", body: Array("by host".utf8)).status == 200)
            #expect(try await server.s3.send("GET", "/vhost/dir/key").text == "by host")
            #expect(try await virtual.send("GET", "/", query: "list-type=2").text.contains("<Key>dir/key</Key>"))
        }
    }
}
