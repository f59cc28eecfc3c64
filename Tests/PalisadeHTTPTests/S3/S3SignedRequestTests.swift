import Foundation
import PalisadeAuth
import PalisadeTestSupport
import Testing

/// The DeleteObjects XML for `keys`.
func deleteDocument(_ keys: [String]) -> [UInt8] {
    Array(("<Delete>" + keys.map { "<Object><Key>\($0)</Key></Object>" }.joined() + "</Delete>").utf8)
}

@Suite("S3 gateway: what is signed is what is done")
struct S3SignedRequestTests {
    @Test("a DeleteObjects body other than the signed one is refused before any key is deleted")
    func deleteObjectsBody() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            for key in ["delete-me", "keep-me"] {
                _ = try await server.s3.send("PUT", "/bucket/\(key)", body: Array(key.utf8))
            }
            let answer = try await server.s3.send(
                "POST",
                "/bucket",
                query: "delete",
                body: deleteDocument(["keep-me"]),
                payload: .declared(SigV4.hexSHA256(deleteDocument(["delete-me"])))
            )
            #expect(answer.status == 400 && answer.errorCode == "XAmzContentSHA256Mismatch", "\(answer.text)")
            #expect(try await server.s3.send("GET", "/bucket/keep-me").status == 200)
            #expect(try await server.s3.send("GET", "/bucket/delete-me").status == 200)
        }
    }

    @Test("a CompleteMultipartUpload body other than the signed one completes nothing")
    func completeBody() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let created = try await server.s3.send("POST", "/bucket/big", query: "uploads")
            let upload = try #require(created.values(of: "UploadId").first)
            var etags: [Int: String] = [:]
            for number in [1, 9] {
                let part = try await server.s3.send(
                    "PUT",
                    "/bucket/big",
                    query: "partNumber=\(number)&uploadId=\(upload)",
                    body: Array("part \(number)".utf8)
                )
                etags[number] = part.header("etag")
            }
            func document(_ number: Int) -> [UInt8] {
                Array(
                    "<CompleteMultipartUpload><Part><PartNumber>\(number)</PartNumber><ETag>\(etags[number]!)</ETag></Part></CompleteMultipartUpload>"
                        .utf8
                )
            }
            let tampered = try await server.s3.send(
                "POST",
                "/bucket/big",
                query: "uploadId=\(upload)",
                body: document(1),
                payload: .declared(SigV4.hexSHA256(document(9)))
            )
            #expect(tampered.status == 400 && tampered.errorCode == "XAmzContentSHA256Mismatch", "\(tampered.text)")
            #expect(try await server.s3.send("HEAD", "/bucket/big").status == 404)
            let honest = try await server.s3.send("POST", "/bucket/big", query: "uploadId=\(upload)", body: document(9))
            #expect(honest.status == 200, "\(honest.text)")
            #expect(try await server.s3.send("GET", "/bucket/big").text == "part 9")
        }
    }

    @Test("a CreateBucket body is checked against its signature and must be a CreateBucketConfiguration")
    func createBucketBody() async throws {
        try await withTestServer { server in
            let configuration = Array(
                "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>"
                    .utf8
            )
            let tampered = try await server.s3.send(
                "PUT",
                "/tampered",
                body: configuration,
                payload: .declared(SigV4.hexSHA256(Array("<CreateBucketConfiguration/>".utf8)))
            )
            #expect(tampered.status == 400 && tampered.errorCode == "XAmzContentSHA256Mismatch", "\(tampered.text)")
            #expect(try await server.s3.send("HEAD", "/tampered").status == 404)
            let wrongDocument = try await server.s3.send("PUT", "/other", body: Array("<Delete/>".utf8))
            #expect(wrongDocument.status == 400 && wrongDocument.errorCode == "MalformedXML")
            #expect(try await server.s3.send("PUT", "/configured", body: configuration).status == 200)
        }
    }

    @Test(
        "a key with NUL or invalid UTF-8 is refused: it can neither alias another key nor be stored altered",
        arguments: ["a%00b", "a%FFb", "a%C3"]
    )
    func invalidKeys(path: String) async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            _ = try await server.s3.send("PUT", "/bucket/a", body: Array("original".utf8))
            for method in ["PUT", "GET", "DELETE"] {
                // Sent raw: an HTTP client library would refuse or rewrite such a URL itself.
                let head = server.s3.signedRequestHead(method, "/bucket/\(path)", headers: [("content-length", "0")])
                let answer = await rawExchange(port: server.port, Array(head.utf8), closeWriteSide: true)
                #expect(answer.hasPrefix("HTTP/1.1 400"), "\(method) \(path): \(answer)")
                #expect(answer.contains("<Code>InvalidURI</Code>") || answer.contains("<Code>InvalidArgument</Code>"))
            }
            #expect(try await server.s3.send("GET", "/bucket/a").text == "original")
            let listed = try await server.s3.send("GET", "/bucket", query: "list-type=2")
            #expect(listed.values(of: "Key") == ["a"])
        }
    }

    @Test("DeleteObjects reports an error for each key that is not a valid key, and deletes the others")
    func deleteObjectsKeyErrors() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            _ = try await server.s3.send("PUT", "/bucket/fine", body: [1])
            let long = String(repeating: "k", count: 2000)
            let answer = try await server.s3.send(
                "POST",
                "/bucket",
                query: "delete",
                body: deleteDocument(["", long, "fine"])
            )
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.values(of: "Deleted").count == 1)
            #expect(answer.values(of: "Code") == ["UserKeyMustBeSpecified", "KeyTooLongError"])
            #expect(try await server.s3.send("HEAD", "/bucket/fine").status == 404)
        }
    }

    @Test("an undefined XML entity in a DeleteObjects body is MalformedXML, never a key")
    func undefinedEntity() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let answer = try await server.s3.send("POST", "/bucket", query: "delete", body: deleteDocument(["&xxe;"]))
            #expect(answer.status == 400 && answer.errorCode == "MalformedXML", "\(answer.text)")
        }
    }

    @Test("an aws-chunked upload that declares a trailing checksum must send it")
    func declaredTrailerMissing() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            func upload(_ key: String, trailer: String) async throws -> S3TestClient.Answer {
                try await server.s3.send(
                    "PUT",
                    "/bucket/\(key)",
                    headers: [
                        ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "5"),
                        ("x-amz-trailer", "x-amz-checksum-crc32"),
                    ],
                    body: Array("5\r\nhello\r\n0\r\n\(trailer)\r\n".utf8),
                    payload: .declared("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
                )
            }
            let missing = try await upload("missing", trailer: "")
            #expect(missing.status == 400, "\(missing.text)")
            #expect(missing.errorCode == "MalformedTrailerError")
            try await expectNothingCommitted(server, key: "missing")
            let sent = try await upload("sent", trailer: "x-amz-checksum-crc32:NhCmhg==\r\n")
            #expect(sent.status == 200, "\(sent.text)")
        }
    }

    @Test(
        "an aws-chunked chunk longer than the declared decoded length is refused before its data is read",
        arguments: ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"]
    )
    func chunkBeyondDecodedLength(mode: String) async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let signature = mode.contains("HMAC") ? ";chunk-signature=" + String(repeating: "0", count: 64) : ""
            // Only the chunk's header is sent: an answer proves the server did not wait for 256 MiB.
            let head = server.s3.signedRequestHead(
                "PUT",
                "/bucket/k",
                headers: [
                    ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "10"),
                    ("content-length", String(300 << 20)),
                ],
                payloadHash: mode
            )
            let started = ContinuousClock.now
            let answer = await rawExchange(
                port: server.port,
                Array((head + "10000000\(signature)\r\n").utf8),
                closeWriteSide: false
            )
            #expect(answer.hasPrefix("HTTP/1.1 400"), "answer: \(answer.prefix(300))")
            #expect(answer.lowercased().contains("connection: close"))
            // rawExchange gives up after closeWait: the server closed the connection rather than read on.
            #expect(ContinuousClock.now - started < closeWait - .seconds(5))
            try await expectNothingCommitted(server, key: "k")
        }
    }
}
