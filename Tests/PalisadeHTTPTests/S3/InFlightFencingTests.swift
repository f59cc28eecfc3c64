import Foundation
import PalisadeProtocol
import PalisadeTestSupport
import StorageCore
import Testing

/// The commit point decides: a fenced write that passed its checks on arrival is refused when its
/// lease ends before it commits. These tests fail when the check inside the commit transaction is
/// removed (the check on arrival alone lets every one of these writes through).
@Suite("Fencing of writes in flight: the lease ends between arrival and commit")
struct InFlightFencingTests {
    /// Every kind of fenced write, each aimed at a key or upload whose state the test then checks.
    enum WriteKind: String, CaseIterable, Sendable {
        case putObject, copyObject, deleteObject, deleteObjects
        case createMultipartUpload, uploadPart, uploadPartCopy, completeMultipartUpload, abortMultipartUpload
    }

    /// How A's grant ends while its write is held, and whether B, the next holder, wrote before A's
    /// write commits (then A is stale; otherwise A simply no longer holds the lock).
    enum Ending: String, CaseIterable, Sendable {
        case expired, expiredThenNextHolderWrote, forceReleased, forceReleasedThenNextHolderWrote

        var nextHolderWrites: Bool { self == .expiredThenNextHolderWrote || self == .forceReleasedThenNextHolderWrote }
        var expectedCode: String { nextHolderWrites ? "StaleFencingToken" : "LockNotHeld" }
    }

    @Test(
        "the write is refused with the fencing code and leaves nothing behind",
        arguments: WriteKind.allCases,
        Ending.allCases
    )
    func refusedAtCommit(kind: WriteKind, ending: Ending) async throws {
        let gate = CommitGate()
        try await withFencingServer(beforeCommit: gate.hook) { server, clock in
            let s3 = server.s3
            let (_, a) = try await server.holder(of: "bucket/", ttl: .seconds(10))
            let headersOfA = fenced("bucket/", a)
            // What A built while it held the lock: an object, and an upload with one part.
            #expect(try await s3.send("PUT", "/bucket/k", headers: headersOfA, body: Array("old".utf8)).status == 200)
            let upload = try #require(
                try await s3.send("POST", "/bucket/mp", query: "uploads", headers: headersOfA).values(of: "UploadId")
                    .first
            )
            let part = try await s3.send(
                "PUT",
                "/bucket/mp",
                query: "partNumber=1&uploadId=\(upload)",
                headers: headersOfA,
                body: Array("part".utf8)
            )
            #expect(part.status == 200)
            let blobsBefore = try blobCount(server.dataDirectory)

            let (path, write) = Self.write(kind, upload: upload, partETag: part.header("etag") ?? "", by: headersOfA)
            let outcome = try await gate.holding(path, write: { try await write(s3) }) {
                switch ending {
                case .expired, .expiredThenNextHolderWrote: clock.advance(by: .seconds(10))
                case .forceReleased, .forceReleasedThenNextHolderWrote:
                    _ = try await server.client.forceRelease("bucket/")
                }
                if ending.nextHolderWrites {
                    let (_, b) = try await server.holder(of: "bucket/")
                    #expect(
                        try await s3.send("PUT", "/bucket/b", headers: fenced("bucket/", b), body: [1]).status == 200
                    )
                }
            }

            #expect(outcome.reachedCommit, "A's write passed the checks on arrival")
            let answer = outcome.result
            if kind == .deleteObjects {
                #expect(answer.status == 200)
                #expect(answer.values(of: "Code") == [ending.expectedCode], "\(answer.text)")
            } else {
                #expect(
                    answer.status == 409 && answer.errorCode == ending.expectedCode,
                    "\(answer.status) \(answer.text)"
                )
            }
            // Nothing changed: the object, the upload and its part are as A left them before.
            #expect(try await s3.send("GET", "/bucket/k").text == "old")
            #expect(try await s3.send("HEAD", "/bucket/copy").status == 404)
            #expect(try await s3.send("HEAD", "/bucket/mp").status == 404)
            let parts = try await s3.send("GET", "/bucket/mp", query: "uploadId=\(upload)")
            #expect(parts.values(of: "PartNumber") == ["1"], "\(parts.text)")
            let uploads = try await s3.send("GET", "/bucket", query: "uploads")
            #expect(uploads.values(of: "UploadId") == [upload])
            let highest = try await server.store.highestToken(of: LockName(rawValue: "bucket/")!)
            if ending.nextHolderWrites {
                #expect(highest.map { $0 > a } == true)
            } else {
                #expect(highest == a)
            }
            // No blob left behind: the refused write's part is removed (the next holder's one-byte
            // object is kept inline, with no blob of its own).
            #expect(try blobCount(server.dataDirectory) == blobsBefore)
        }
    }

    /// The request of `kind`, and the key whose commit it makes.
    static func write(
        _ kind: WriteKind,
        upload: String,
        partETag: String,
        by headers: [(name: String, value: String)]
    ) -> (String, @Sendable (S3TestClient) async throws -> S3TestClient.Answer) {
        switch kind {
        case .putObject:
            return ("bucket/k", { try await $0.send("PUT", "/bucket/k", headers: headers, body: Array("new".utf8)) })
        case .copyObject:
            return (
                "bucket/copy",
                { try await $0.send("PUT", "/bucket/copy", headers: headers + [("x-amz-copy-source", "bucket/k")]) }
            )
        case .deleteObject:
            return ("bucket/k", { try await $0.send("DELETE", "/bucket/k", headers: headers) })
        case .deleteObjects:
            let body = Array("<Delete><Object><Key>k</Key></Object></Delete>".utf8)
            return ("bucket/k", { try await $0.send("POST", "/bucket", query: "delete", headers: headers, body: body) })
        case .createMultipartUpload:
            return ("bucket/mp", { try await $0.send("POST", "/bucket/mp", query: "uploads", headers: headers) })
        case .uploadPart, .uploadPartCopy:
            let copy: [(name: String, value: String)] =
                kind == .uploadPartCopy ? [("x-amz-copy-source", "bucket/k")] : []
            let body = kind == .uploadPart ? Array("late".utf8) : []
            return (
                "bucket/mp",
                {
                    try await $0.send(
                        "PUT",
                        "/bucket/mp",
                        query: "partNumber=2&uploadId=\(upload)",
                        headers: headers + copy,
                        body: body
                    )
                }
            )
        case .completeMultipartUpload:
            let body = Array(
                "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(partETag)</ETag></Part></CompleteMultipartUpload>"
                    .utf8
            )
            return (
                "bucket/mp",
                { try await $0.send("POST", "/bucket/mp", query: "uploadId=\(upload)", headers: headers, body: body) }
            )
        case .abortMultipartUpload:
            return (
                "bucket/mp",
                { try await $0.send("DELETE", "/bucket/mp", query: "uploadId=\(upload)", headers: headers) }
            )
        }
    }
}

/// The number of blob files in a data folder.
func blobCount(_ dataDirectory: String) throws -> Int {
    let root = dataDirectory + "/blobs"
    return try FileManager.default.contentsOfDirectory(atPath: root).reduce(0) {
        $0 + (try FileManager.default.contentsOfDirectory(atPath: root + "/" + $1).count)
    }
}

@Suite("Every write kind names the fencing rule it breaks")
struct FencingCodesTests {
    @Test(
        "a lock that does not cover the key: FencingLockMismatch; no token on a fenced path: FencingTokenRequired",
        arguments: InFlightFencingTests.WriteKind.allCases
    )
    func codes(kind: InFlightFencingTests.WriteKind) async throws {
        try await withFencingServer { server, _ in
            let s3 = server.s3
            let (_, token) = try await server.holder(of: "bucket/")
            _ = try await s3.send("PUT", "/bucket/k", headers: fenced("bucket/", token), body: Array("old".utf8))
            let upload = try #require(
                try await s3.send("POST", "/bucket/mp", query: "uploads", headers: fenced("bucket/", token))
                    .values(of: "UploadId").first
            )
            let part = try await s3.send(
                "PUT",
                "/bucket/mp",
                query: "partNumber=1&uploadId=\(upload)",
                headers: fenced("bucket/", token),
                body: Array("part".utf8)
            )
            let (_, other) = try await server.holder(of: "bucket/elsewhere")
            try await server.store.setFenced(FencedPath(bucket: "bucket"), true)
            for (headers, code) in [
                (fenced("bucket/elsewhere", other), "FencingLockMismatch"), ([], "FencingTokenRequired"),
            ] {
                let (_, write) = InFlightFencingTests.write(
                    kind,
                    upload: upload,
                    partETag: part.header("etag") ?? "",
                    by: headers
                )
                let answer = try await write(s3)
                if kind == .deleteObjects {
                    #expect(answer.values(of: "Code") == [code], "\(answer.text)")
                } else {
                    #expect(answer.status == 403 && answer.errorCode == code, "\(answer.status) \(answer.text)")
                }
            }
            #expect(try await s3.send("GET", "/bucket/k").text == "old")
            #expect(
                try await s3.send("GET", "/bucket/mp", query: "uploadId=\(upload)").values(of: "PartNumber") == ["1"]
            )
        }
    }
}
