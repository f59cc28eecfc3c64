import Foundation
import PalisadeClient
import PalisadeProtocol
import PalisadeTestSupport
import StorageCore
import StorageEngine
import Testing

/// A fenced write's headers.
func fenced(_ lock: String, _ token: FencingToken) -> [(name: String, value: String)] {
    [(PalisadeHeaders.lock, lock), (PalisadeHeaders.fencingToken, token.description)]
}

/// A server on a manual clock with no lock-delay, a bucket, and two leases that can take "bucket/doc".
func withFencingServer<T: Sendable>(
    dataDirectory: String? = nil,
    beforeCommit: ObjectStore.CommitHook? = nil,
    _ body: @Sendable (TestServer<ManualClock>, ManualClock) async throws -> T
) async throws -> T {
    let clock = ManualClock()
    return try await withTestServer(
        clock: clock,
        configuration: .init(rules: .init(lockDelay: .zero)),
        dataDirectory: dataDirectory,
        beforeCommit: beforeCommit
    ) {
        server in
        if dataDirectory == nil { _ = try await server.s3.send("PUT", "/bucket") }
        return try await body(server, clock)
    }
}

extension TestServer {
    /// A lease with `ttl` holding `lock`, and its grant's token.
    func holder(of lock: LockName, ttl: Duration = .seconds(10)) async throws -> (LeaseID, FencingToken) {
        let lease = try await client.grantLease(ttl: ttl)
        let grant = try await client.acquire(lock, lease: lease.leaseID, wait: .zero)
        return (lease.leaseID, grant.token)
    }
}

@Suite("Fencing at the commit point: the paused writer story")
struct FencingTests {
    @Test(
        "A writes while it holds the lock, twice with the same token: accepted, and the version remembers its lock and token"
    )
    func holderWrites() async throws {
        try await withFencingServer { server, _ in
            let (_, token) = try await server.holder(of: "bucket/doc")
            for body in ["A1", "A"] {
                let put = try await server.s3.send(
                    "PUT",
                    "/bucket/doc",
                    headers: fenced("bucket/doc", token),
                    body: Array(body.utf8)
                )
                #expect(put.status == 200, "the holder's write of \(body): \(put.text)")
            }
            #expect(try await server.s3.send("GET", "/bucket/doc").text == "A")
            let head = try await server.s3.send("HEAD", "/bucket/doc")
            #expect(head.header(PalisadeHeaders.lock) == "bucket/doc")
            #expect(head.header(PalisadeHeaders.fencingToken) == token.description)
            #expect(try await server.store.highestToken(of: LockName(rawValue: "bucket/doc")!) == token)
        }
    }

    @Test("A pauses past its TTL: LockNotHeld before and after B takes the lock, StaleFencingToken once B wrote")
    func pausedWriter() async throws {
        try await withFencingServer { server, clock in
            let (_, a) = try await server.holder(of: "bucket/doc")
            clock.advance(by: .seconds(10))
            let expired = try await server.s3.send(
                "PUT",
                "/bucket/doc",
                headers: fenced("bucket/doc", a),
                body: Array("A".utf8)
            )
            #expect(
                expired.status == 409 && expired.errorCode == "LockNotHeld",
                "A's lease expired before anyone took the lock"
            )
            let (_, b) = try await server.holder(of: "bucket/doc")
            #expect(b > a)
            let early = try await server.s3.send(
                "PUT",
                "/bucket/doc",
                headers: fenced("bucket/doc", a),
                body: Array("A".utf8)
            )
            #expect(early.status == 409 && early.errorCode == "LockNotHeld")
            #expect(
                try await server.s3.send("PUT", "/bucket/doc", headers: fenced("bucket/doc", b), body: Array("B".utf8))
                    .status == 200
            )
            let late = try await server.s3.send(
                "PUT",
                "/bucket/doc",
                headers: fenced("bucket/doc", a),
                body: Array("A".utf8)
            )
            #expect(late.status == 409 && late.errorCode == "StaleFencingToken")
            #expect(try await server.s3.send("GET", "/bucket/doc").text == "B")
            #expect(try await server.store.highestToken(of: LockName(rawValue: "bucket/doc")!) == b)
        }
    }

    @Test("A's lease is alive but an operator force-released its lock: A's write is refused once B holds it")
    func forceReleased() async throws {
        try await withFencingServer { server, _ in
            let (_, a) = try await server.holder(of: "bucket/doc", ttl: .seconds(60))
            _ = try await server.client.forceRelease("bucket/doc")
            let (_, b) = try await server.holder(of: "bucket/doc")
            #expect(
                try await server.s3.send("PUT", "/bucket/doc", headers: fenced("bucket/doc", a), body: [1]).errorCode
                    == "LockNotHeld"
            )
            #expect(
                try await server.s3.send("PUT", "/bucket/doc", headers: fenced("bucket/doc", b), body: [2]).status
                    == 200
            )
            #expect(
                try await server.s3.send("PUT", "/bucket/doc", headers: fenced("bucket/doc", a), body: [3]).errorCode
                    == "StaleFencingToken"
            )
        }
    }

    @Test("the highest token survives a restart: after it, A's old token is still stale")
    func acrossRestart() async throws {
        let directory = try makeTemporaryDirectory()
        let a = try await withFencingServer(dataDirectory: directory) { server, clock in
            _ = try await server.s3.send("PUT", "/bucket")
            let (_, a) = try await server.holder(of: "bucket/doc")
            clock.advance(by: .seconds(10))
            let (_, b) = try await server.holder(of: "bucket/doc")
            #expect(
                try await server.s3.send("PUT", "/bucket/doc", headers: fenced("bucket/doc", b), body: Array("B".utf8))
                    .status == 200
            )
            return a
        }
        try await withFencingServer(dataDirectory: directory) { server, _ in
            let stale = try await server.s3.send(
                "PUT",
                "/bucket/doc",
                headers: fenced("bucket/doc", a),
                body: Array("A".utf8)
            )
            #expect(stale.errorCode == "StaleFencingToken")
            #expect(try await server.s3.send("GET", "/bucket/doc").text == "B")
        }
    }

    @Test("every write kind refuses a stale token and leaves no trace")
    func everyWriteKind() async throws {
        try await withFencingServer { server, clock in
            let (_, a) = try await server.holder(of: "bucket/")
            let upload = try #require(
                try await server.s3.send("POST", "/bucket/mp", query: "uploads").values(of: "UploadId").first
            )
            let oldPart = try await server.s3.send(
                "PUT",
                "/bucket/mp",
                query: "partNumber=1&uploadId=\(upload)",
                headers: fenced("bucket/", a),
                body: Array("a".utf8)
            )
            #expect(oldPart.status == 200)
            clock.advance(by: .seconds(10))
            let (_, b) = try await server.holder(of: "bucket/")
            _ = try await server.s3.send("PUT", "/bucket/src", headers: fenced("bucket/", b), body: Array("B".utf8))
            let blobsBefore = try blobCount(server.dataDirectory)
            let stale = fenced("bucket/", a)
            let attempts: [(String, String, String, [(name: String, value: String)], [UInt8])] = [
                ("PUT", "/bucket/k", "", stale, [1]),
                ("PUT", "/bucket/copy", "", stale + [("x-amz-copy-source", "bucket/src")], []),
                ("DELETE", "/bucket/src", "", stale, []),
                ("PUT", "/bucket/mp", "partNumber=2&uploadId=\(upload)", stale, [2]),
                ("DELETE", "/bucket/mp", "uploadId=\(upload)", stale, []),
            ]
            for (method, path, query, headers, body) in attempts {
                let answer = try await server.s3.send(method, path, query: query, headers: headers, body: body)
                #expect(answer.errorCode == "StaleFencingToken", "\(method) \(path)?\(query): \(answer.text)")
            }
            let batch = try await server.s3.send(
                "POST",
                "/bucket",
                query: "delete",
                headers: stale,
                body: Array("<Delete><Object><Key>src</Key></Object></Delete>".utf8)
            )
            #expect(batch.values(of: "Code") == ["StaleFencingToken"])
            // B completes the upload, but A's part was uploaded under an older grant.
            let complete =
                "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(oldPart.header("etag")!)</ETag></Part></CompleteMultipartUpload>"
            let completion = try await server.s3.send(
                "POST",
                "/bucket/mp",
                query: "uploadId=\(upload)",
                headers: fenced("bucket/", b),
                body: Array(complete.utf8)
            )
            #expect(completion.errorCode == "StaleFencingToken")
            #expect(try await server.s3.send("GET", "/bucket/src").text == "B")
            #expect(try await server.s3.send("HEAD", "/bucket/k").status == 404)
            #expect(try await server.s3.send("HEAD", "/bucket/copy").status == 404)
            #expect(try await server.store.highestToken(of: LockName(rawValue: "bucket/")!) == b)
            #expect(try blobCount(server.dataDirectory) == blobsBefore, "refused writes leave no blob")
        }
    }

    @Test("fenced paths need a token; unfenced paths do not, but a token sent there is still checked")
    func fencedAndUnfencedPaths() async throws {
        try await withFencingServer { server, clock in
            try await server.store.setFenced(FencedPath(bucket: "bucket", prefix: "locked/"), true)
            let bare = try await server.s3.send("PUT", "/bucket/locked/x", body: [1])
            #expect(bare.status == 403 && bare.errorCode == "FencingTokenRequired")
            #expect(try await server.s3.send("PUT", "/bucket/open/x", body: [1]).status == 200)
            #expect(try await server.s3.send("DELETE", "/bucket/locked/x").errorCode == "FencingTokenRequired")
            let bareUpload = try await server.s3.send("POST", "/bucket/locked/mp", query: "uploads")
            #expect(bareUpload.status == 403 && bareUpload.errorCode == "FencingTokenRequired")
            let (_, holder) = try await server.holder(of: "bucket/locked/mp")
            let upload = try await server.s3.send(
                "POST",
                "/bucket/locked/mp",
                query: "uploads",
                headers: fenced("bucket/locked/mp", holder)
            )
            #expect(upload.status == 200)
            #expect(
                try await server.s3.send("GET", "/bucket", query: "uploads").values(of: "UploadId")
                    == upload.values(of: "UploadId"),
                "only the fenced upload was created"
            )
            let (_, a) = try await server.holder(of: "bucket/open/x")
            clock.advance(by: .seconds(10))
            let (_, b) = try await server.holder(of: "bucket/open/x")
            _ = try await server.s3.send("PUT", "/bucket/open/x", headers: fenced("bucket/open/x", b), body: [2])
            #expect(
                try await server.s3.send("PUT", "/bucket/open/x", headers: fenced("bucket/open/x", a), body: [3])
                    .errorCode == "StaleFencingToken"
            )
            #expect(
                try await server.s3.send("PUT", "/bucket/open/x", body: [4]).status == 200,
                "last writer wins without a token"
            )
        }
    }

    @Test("a lock that does not cover the key is FencingLockMismatch; malformed fencing headers are InvalidArgument")
    func mismatchAndMalformed() async throws {
        try await withFencingServer { server, _ in
            let (_, token) = try await server.holder(of: "bucket/other")
            let mismatch = try await server.s3.send(
                "PUT",
                "/bucket/doc",
                headers: fenced("bucket/other", token),
                body: [1]
            )
            #expect(mismatch.status == 403 && mismatch.errorCode == "FencingLockMismatch")
            let noToken = try await server.s3.send(
                "PUT",
                "/bucket/doc",
                headers: [(PalisadeHeaders.lock, "bucket/doc")],
                body: [1]
            )
            #expect(noToken.status == 400 && noToken.errorCode == "InvalidArgument")
            for token in ["0", "-1", "abc", "1.5", "", "18446744073709551616", "7 8"] {
                let badToken = try await server.s3.send(
                    "PUT",
                    "/bucket/doc",
                    headers: [(PalisadeHeaders.lock, "bucket/doc"), (PalisadeHeaders.fencingToken, token)],
                    body: [1]
                )
                #expect(
                    badToken.status == 400 && badToken.errorCode == "InvalidArgument",
                    "token '\(token)': \(badToken.status) \(badToken.text)"
                )
            }
            #expect(try await server.s3.send("HEAD", "/bucket/doc").status == 404)
        }
    }
}

@Suite("Fencing settings at run time")
struct FencingSettingsTests {
    @Test("the admin call fences a path at run time, persists it across a restart, and unfences it")
    func adminFencing() async throws {
        let directory = try makeTemporaryDirectory()
        try await withTestServer(dataDirectory: directory) { server in
            let api = RawLockAPI(server: server)
            _ = try await server.s3.send("PUT", "/bucket")
            let set = try await api.send(
                "PUT",
                "/_palisade/v1/admin/fencing",
                json: ["path": "bucket/locked/", "fenced": true]
            )
            #expect(set["fenced_paths"] as? [String] == ["bucket/locked/"])
            #expect(try await server.s3.send("PUT", "/bucket/locked/x", body: [1]).errorCode == "FencingTokenRequired")
            #expect(try await server.s3.send("PUT", "/bucket/free/x", body: [1]).status == 200)
            let bad = try await api.send(
                "PUT",
                "/_palisade/v1/admin/fencing",
                json: ["path": "Bad_Bucket", "fenced": true]
            )
            #expect(bad.status == 400 && bad.code == LockAPIErrorCode.invalidArgument)
        }
        try await withTestServer(dataDirectory: directory) { server in
            let api = RawLockAPI(server: server)
            #expect(
                try await api.send("GET", "/_palisade/v1/admin/fencing")["fenced_paths"] as? [String] == [
                    "bucket/locked/"
                ]
            )
            let unset = try await api.send(
                "PUT",
                "/_palisade/v1/admin/fencing",
                json: ["path": "bucket/locked/", "fenced": false]
            )
            #expect(unset["fenced_paths"] as? [String] == [])
            #expect(try await server.s3.send("PUT", "/bucket/locked/x", body: [1]).status == 200)
        }
    }
}
