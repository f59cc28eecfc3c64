import Foundation
import PalisadeAuth
import PalisadeClient
import PalisadeProtocol
import PalisadeTestSupport
import Testing

/// A key that may read `bucket/public/*`, take locks under `jobs/`, and nothing else.
let workerCredentials = SigV4Credentials(accessKeyID: "WORKERKEY", secretAccessKey: "worker-secret")
let otherCredentials = SigV4Credentials(accessKeyID: "OTHERKEY", secretAccessKey: "other-secret")

func scopedUsers() throws -> [UserDirectory.User] {
    let worker = try AccessPolicy(
        json: JSONSerialization.jsonObject(
            with: Data(
                #"""
                {"Version": "2012-10-17", "Statement": [
                  {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bucket/public/*"},
                  {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::bucket/work/*"},
                  {"Effect": "Allow", "Action": ["palisade:GrantLease"], "Resource": "*"},
                  {"Effect": "Allow", "Action": ["palisade:AcquireLock", "palisade:ReadLock"], "Resource": "arn:palisade:lock:::jobs/*"}
                ]}
                """#.utf8
            )
        )
    )
    return [
        .init(credentials: workerCredentials, policy: worker), .init(credentials: otherCredentials, policy: worker),
    ]
}

@Suite("Scoped credentials: each key does what its policy allows, and a lease belongs to its key")
struct ScopedCredentialsTests {
    @Test("S3: reads and writes where allowed, AccessDenied elsewhere, DeleteObjects per key, copy needs read")
    func s3Scopes() async throws {
        try await withTestServer(clock: ContinuousClock(), users: try scopedUsers()) { server in
            let admin = server.s3
            let worker = S3TestClient(endpoint: server.endpoint, credentials: workerCredentials)
            _ = try await admin.send("PUT", "/bucket")
            for key in ["public/a", "private/b", "work/c"] {
                _ = try await admin.send("PUT", "/bucket/\(key)", body: [1])
            }
            #expect(try await worker.send("GET", "/bucket/public/a").status == 200)
            let denied = try await worker.send("GET", "/bucket/private/b")
            #expect(denied.status == 403 && denied.errorCode == "AccessDenied")
            #expect(try await worker.send("PUT", "/bucket/public/a", body: [2]).errorCode == "AccessDenied")
            #expect(try await worker.send("PUT", "/bucket/work/new", body: [2]).status == 200)
            #expect(try await worker.send("GET", "/").errorCode == "AccessDenied")
            #expect(try await worker.send("PUT", "/newbucket").errorCode == "AccessDenied")
            let copy = try await worker.send(
                "PUT",
                "/bucket/work/copied",
                headers: [("x-amz-copy-source", "/bucket/private/b")]
            )
            #expect(copy.errorCode == "AccessDenied", "a copy needs s3:GetObject on its source")
            let deleted = try await worker.send(
                "POST",
                "/bucket",
                query: "delete",
                body: deleteDocument(["work/c", "private/b"])
            )
            #expect(deleted.status == 200, "\(deleted.text)")
            #expect(deleted.values(of: "Code") == ["AccessDenied"])
            #expect(try await admin.send("HEAD", "/bucket/private/b").status == 200)
            #expect(try await admin.send("HEAD", "/bucket/work/c").status == 404)
        }
    }

    @Test("locks: allowed names only; another key's lease cannot be used, renewed or revoked; admin actions need admin")
    func lockScopes() async throws {
        try await withTestServer(clock: ContinuousClock(), users: try scopedUsers()) { server in
            let admin = RawLockAPI(server: server)
            let worker = RawLockAPI(endpoint: server.endpoint, credentials: workerCredentials)
            let other = RawLockAPI(endpoint: server.endpoint, credentials: otherCredentials)
            let lease = try await worker.lease()
            #expect(try await worker.acquire("jobs/a", lease: lease).status == 200)
            let outside = try await worker.acquire("prod/a", lease: lease)
            #expect(outside.status == 403 && outside.code == "AccessDenied", "\(outside.json)")
            for (method, path) in [
                ("GET", "/_palisade/v1/leases/\(lease)"), ("POST", "/_palisade/v1/leases/\(lease)/keepalive"),
                ("DELETE", "/_palisade/v1/leases/\(lease)"),
            ] {
                let answer = try await other.send(method, path)
                #expect(answer.status == 403 && answer.code == "AccessDenied", "\(method) \(path): \(answer.json)")
            }
            let stolen = try await other.acquire("jobs/b", lease: lease)
            #expect(stolen.status == 403, "a lease id is not a bearer token")
            let forced = try await worker.send(
                "POST",
                "/_palisade/v1/admin/locks/force-release",
                json: ["name": "jobs/a"]
            )
            #expect(forced.status == 403 && forced.code == "AccessDenied")
            let fencing = try await worker.send(
                "PUT",
                "/_palisade/v1/admin/fencing",
                json: ["path": "bucket", "fenced": true]
            )
            #expect(fencing.status == 403)
            #expect(try await admin.send("GET", "/_palisade/v1/leases/\(lease)").status == 200, "admin manages leases")
            #expect(try await worker.send("POST", "/_palisade/v1/leases/\(lease)/keepalive").status == 200)
        }
    }

    @Test("a lock session carries its key's policy: every call in it is checked as over HTTP")
    func sessionScopes() async throws {
        try await withTestServer(clock: ContinuousClock(), users: try scopedUsers()) { server in
            let client = LockClient(
                configuration: .init(endpoint: server.endpoint, credentials: workerCredentials, transport: .session)
            )
            let lease = try await client.grantLease(ttl: .seconds(10))
            _ = try await client.acquire(LockName(rawValue: "jobs/x")!, lease: lease.leaseID, wait: .zero)
            do {
                _ = try await client.acquire(LockName(rawValue: "prod/x")!, lease: lease.leaseID, wait: .zero)
                Issue.record("a session acquired a lock its key may not take")
            } catch let error as LockClientError {
                #expect(error.code == "AccessDenied" && error.status == 403)
            }
            let sessions = try await RawLockAPI(server: server).text("/_palisade/metrics").body
            #expect(sessions.contains("palisade_lock_sessions 1"), "the calls went over the session")
            await client.close()
        }
    }
}
