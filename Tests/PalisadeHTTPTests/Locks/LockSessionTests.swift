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

    @Test("an upgrade with a wrong signature is refused; GET /session without an upgrade is 426 UpgradeRequired")
    func refusedUpgrades() async throws {
        try await withTestServer { server in
            let wrong = SigV4Credentials(accessKeyID: testCredentials.accessKeyID, secretAccessKey: "wrong")
            await #expect(throws: (any Error).self) {
                _ = try await RawLockSession(server: server).exchange(
                    [Self.request(1, "POST", "/leases", #"{"ttl_ms":5000}"#)],
                    credentials: wrong
                )
            }
            let plain = try await RawLockAPI(server: server).send("GET", "/_palisade/v1/session")
            #expect(plain.status == 426 && plain.code == LockAPIErrorCode.upgradeRequired)
        }
    }
}
