import Foundation
import HTTPTypes
import Logging
import PalisadeAuth
import PalisadeProtocol
import PalisadeTestSupport
import Synchronization
import Testing
import WSClient

/// A raw lock session, as a client in another language would speak it (Protocol/lock-sessions.md).
struct RawLockSession {
    let server: TestServer<ContinuousClock>

    /// Opens a session signed with `credentials`, sends `requests` at once, and returns the
    /// answers (header and body) in the order they arrived.
    func exchange(
        _ requests: [String],
        credentials: SigV4Credentials = testCredentials,
        answers expected: Int? = nil
    ) async throws -> [(header: [String: Any], body: String)] {
        let authority = server.endpoint.replacingOccurrences(of: "http://", with: "")
        var signed: [(name: String, value: String)] = [("host", authority)]
        signed += SigV4Signer(credentials: credentials).signatureHeaders(
            method: "GET",
            path: "/_palisade/v1/session",
            query: "",
            headers: signed,
            payloadHash: SigV4.emptyPayloadHash
        )
        var headers = HTTPFields()
        for header in signed where header.name != "host" {
            headers.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value))
        }
        let answers = Mutex<[(header: String, body: String)]>([])
        try await WebSocketClient.connect(
            url: "ws://\(authority)/_palisade/v1/session",
            configuration: .init(additionalHeaders: headers),
            logger: Logger(label: "test")
        ) { inbound, outbound, _ in
            for request in requests { try await outbound.write(.text(request)) }
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message else { continue }
                let (header, body) = LockSessionMessage.split(text[...])
                let count = answers.withLock { answers in
                    answers.append((String(header), String(body)))
                    return answers.count
                }
                if count == (expected ?? requests.count) { break }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        return try answers.withLock { $0 }.map { answer in
            let header = try JSONSerialization.jsonObject(with: Data(answer.header.utf8)) as? [String: Any]
            return (header ?? [:], answer.body)
        }
    }
}

@Suite("Lock sessions over WebSocket against a live server")
struct LockSessionTests {
    static func request(
        _ id: Int,
        _ method: String,
        _ path: String,
        _ body: String = "",
        query: String? = nil
    ) -> String {
        let queryField = query.map { ",\"query\":\"\($0)\"" } ?? ""
        return "{\"id\":\(id),\"method\":\"\(method)\",\"path\":\"\(path)\"\(queryField)}\n" + body
    }

    @Test(
        "calls are answered by id with the HTTP API's statuses and bodies; a blocking acquire does not hold up later calls"
    )
    func callsAndOrdering() async throws {
        try await withTestServer { server in
            let holder = try await server.client.grantLease(ttl: .seconds(30))
            _ = try await server.client.acquire("busy", lease: holder.leaseID, wait: .zero)
            let waiter = try await server.client.grantLease(ttl: .seconds(30))
            let answers = try await RawLockSession(server: server).exchange([
                Self.request(
                    1,
                    "POST",
                    "/locks/acquire",
                    #"{"name":"busy","lease_id":"\#(waiter.leaseID)","wait_ms":300}"#
                ),
                Self.request(2, "POST", "/leases/\(waiter.leaseID)/keepalive"),
                Self.request(3, "GET", "/locks", query: "name=busy"),
                Self.request(4, "POST", "/leases", #"{"ttl_ms":5}"#),
            ])
            // The blocking acquire is answered last, after the calls sent behind it.
            let order = answers.compactMap { $0.header["id"] as? Int }
            #expect(order.count == 4 && order.last == 1 && Set(order.dropLast()) == [2, 3, 4])
            let status = Dictionary(uniqueKeysWithValues: answers.map { ($0.header["id"] as? Int ?? 0, $0) })
            #expect(status[2]?.header["status"] as? Int == 200 && status[2]?.body.contains("remaining_ms") == true)
            #expect(status[3]?.header["status"] as? Int == 200 && status[3]?.body.contains("\"holders\":[{") == true)
            #expect(status[4]?.header["status"] as? Int == 400 && status[4]?.body.contains("InvalidTTL") == true)
            #expect(status[1]?.header["status"] as? Int == 408 && status[1]?.body.contains("WaitTimeout") == true)
            #expect((status[1]?.header["request_id"] as? String)?.count == 32)
            // Session calls are counted in the request metrics like HTTP calls.
            let (_, metrics) = try await RawLockAPI(server: server).text("/_palisade/metrics")
            #expect(
                metrics.split(separator: "\n").contains {
                    $0.contains("palisade_http_request_duration_seconds") && $0.contains("/locks/acquire")
                        && $0.contains("\"408\"")
                }
            )
        }
    }

    @Test("acquires and releases are answered over a session exactly as over HTTP, refusals and metrics included")
    func acquireAndReleaseAsOverHTTP() async throws {
        try await withTestServer { server in
            let http = RawLockAPI(server: server)
            let first = try await server.client.grantLease(ttl: .seconds(30))
            let second = try await server.client.grantLease(ttl: .seconds(30))
            let unknown = String(repeating: "0", count: 32)
            // Each call once over HTTP (on lock "h…") and once in a session (on lock "s…"), in the
            // same state; bodies are compared with the lock name and the lease time left taken out.
            func calls(_ lock: String) -> [(path: String, body: String)] {
                [
                    ("/locks/acquire", #"{"name":"\#(lock)","lease_id":"\#(first.leaseID)"}"#),
                    ("/locks/acquire", #"{"name":"\#(lock)","lease_id":"\#(second.leaseID)","wait_ms":0}"#),
                    ("/locks/acquire", #"{"name":"\#(lock)","lease_id":"\#(unknown)"}"#),
                    ("/locks/release", #"{"name":"\#(lock)","lease_id":"\#(second.leaseID)","token":1}"#),
                    ("/locks/release", #"{"name":"\#(lock)","lease_id":"\#(first.leaseID)"}"#),
                    ("/locks/release", #"{"name":"\#(lock)","lease_id":"\#(first.leaseID)"}"#),
                    ("/locks/acquire", #"{"name":"\#(lock)","lease_id":"\#(first.leaseID)","wait_ms":-1}"#),
                    ("/locks/acquire", #"{"name":"\#(lock)","lease_id":"\#(first.leaseID)","extra":1}"#),
                    ("/locks/release", #"{"name":"\#(lock)"}"#),
                ]
            }
            func comparable(_ json: [String: Any]) -> [String: String] {
                json.filter { !["name", "lease_remaining_ms", "request_id", "token", "message"].contains($0.key) }
                    .mapValues { "\($0)" }
            }
            var overHTTP: [(Int, [String: String])] = []
            for call in calls("h") {
                let answer = try await http.send("POST", "/_palisade/v1" + call.path, raw: call.body)
                overHTTP.append((answer.status, comparable(answer.json)))
            }
            var requests: [String] = []
            for (index, call) in calls("s").enumerated() {
                requests.append(Self.request(index, "POST", call.path, call.body))
            }
            // One call at a time, so that each finds the state the HTTP call found.
            var overSession: [(Int, [String: String])] = []
            for request in requests {
                let answer = try #require(try await RawLockSession(server: server).exchange([request]).first)
                let body = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any] ?? [:]
                overSession.append((answer.header["status"] as? Int ?? 0, comparable(body)))
            }
            #expect(overHTTP.map(\.0) == [200, 409, 404, 409, 200, 200, 400, 200, 400])
            #expect(overSession.map(\.0) == overHTTP.map(\.0))
            #expect(overSession.map(\.1) == overHTTP.map(\.1))
            let (_, metrics) = try await http.text("/_palisade/metrics")
            let counted = metrics.split(separator: "\n").first {
                $0.hasPrefix("palisade_http_request_duration_seconds_count") && $0.contains("/locks/release")
                    && $0.contains("\"409\"")
            }
            #expect(counted?.hasSuffix(" 2") == true, "one 409 release over HTTP, one over the session")
        }
    }

    @Test("header lines are the one-line JSON of their fields, whatever the strings hold")
    func headerLines() throws {
        let tricky = "a\"b\\c\nd\u{1}é/😀"
        let request = LockSessionRequestHeader(id: 42, method: "GET", path: "/locks", query: tricky)
        #expect(!request.line.contains("\n"))
        #expect(try JSONDecoder().decode(LockSessionRequestHeader.self, from: Data(request.line.utf8)) == request)
        let answer = LockSessionResponseHeader(id: nil, status: 400, requestID: tricky)
        #expect(!answer.line.contains("\n"))
        #expect(try JSONDecoder().decode(LockSessionResponseHeader.self, from: Data(answer.line.utf8)) == answer)
        let message = request.line + "\n" + #"{"a":"x\ny"}"#
        let (header, body) = LockSessionMessage.split(message[...])
        #expect(header == request.line[...] && body == #"{"a":"x\ny"}"#)
    }

    @Test("a request without a readable header line is answered 400 MalformedRequest")
    func malformedRequest() async throws {
        try await withTestServer { server in
            let answers = try await RawLockSession(server: server).exchange(["not json\n{}"])
            #expect(answers.first?.header["status"] as? Int == 400)
            #expect(answers.first?.header["id"] == nil)
            #expect(answers.first?.body.contains("MalformedRequest") == true)
        }
    }

    /// Sends, over a raw socket, a GET of `target` that asks for a WebSocket upgrade, signed with
    /// `credentials` at `date` (unsigned when nil); returns the answer's status and body.
    static func upgrade(
        _ server: TestServer<ContinuousClock>,
        _ target: String,
        credentials: SigV4Credentials? = testCredentials,
        date: Date = Date()
    ) async -> (status: Int, body: String) {
        let (path, query) =
            target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[$0...].dropFirst())) }
            ?? (target, "")
        var headers: [(name: String, value: String)] = [("host", "127.0.0.1:\(server.port)")]
        if let credentials {
            headers += SigV4Signer(credentials: credentials).signatureHeaders(
                method: "GET",
                path: path,
                query: query,
                headers: headers,
                payloadHash: SigV4.emptyPayloadHash,
                date: date
            )
        }
        headers += [
            ("connection", "Upgrade"), ("upgrade", "websocket"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
        ]
        let request = "GET \(target) HTTP/1.1\r\n" + headers.map { "\($0.name): \($0.value)\r\n" }.joined() + "\r\n"
        let answer = await rawExchange(port: server.port, Array(request.utf8), closeWriteSide: true)
        let status = Int(answer.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
        let body = answer.range(of: "\r\n\r\n").map { String(answer[$0.upperBound...]) } ?? ""
        return (status, body)
    }

    @Test("a refused upgrade gets the lock API's JSON error; GET /session without an upgrade is 426 UpgradeRequired")
    func refusedUpgrades() async throws {
        try await withTestServer { server in
            let wrong = SigV4Credentials(accessKeyID: testCredentials.accessKeyID, secretAccessKey: "wrong")
            await #expect(throws: (any Error).self) {
                _ = try await RawLockSession(server: server).exchange(
                    [Self.request(1, "POST", "/leases", #"{"ttl_ms":5000}"#)],
                    credentials: wrong
                )
            }
            let session = "/_palisade/v1/session"
            for (refused, status, code) in [
                (await Self.upgrade(server, session, credentials: wrong), 403, "SignatureDoesNotMatch"),
                (await Self.upgrade(server, session, credentials: nil), 401, "MissingAuthentication"),
                (
                    await Self.upgrade(server, session, date: Date().addingTimeInterval(-3600)), 403,
                    "RequestTimeTooSkewed"
                ),
            ] {
                #expect(refused.status == status && refused.body.contains(#""code":"\#(code)""#), "\(refused)")
            }
            let accepted = await Self.upgrade(server, session)
            #expect(accepted.status == 101)
            let api = RawLockAPI(server: server)
            let plain = try await api.send("GET", "/_palisade/v1/session")
            #expect(plain.status == 426 && plain.code == LockAPIErrorCode.upgradeRequired)
        }
    }

    @Test("an upgrade asked of any other path is answered as the plain request it also is")
    func upgradeElsewhere() async throws {
        try await withTestServer { server in
            let lock = await Self.upgrade(server, "/_palisade/v1/locks?name=free")
            #expect(lock.status == 200 && lock.body.contains(#""holders":[]"#), "\(lock)")
            let object = await Self.upgrade(server, "/no-such-bucket/key")
            #expect(object.status == 404 && object.body.contains("<Code>NoSuchBucket</Code>"), "\(object)")
        }
    }
}
