import Foundation
import PalisadeAuth
import PalisadeHTTP
import PalisadeTestSupport
import Testing

/// Short limits, so that each test waits a second or two, not minutes. The idle timeout stays
/// long: the tests' HTTP clients keep connections alive, and one the server closes just as the
/// client reuses it would be reset (`idleKeepAlive` tests the idle timeout on a raw connection).
let shortLimits = ConnectionLimits(
    idleTimeout: .seconds(30),
    headerTimeout: .seconds(1),
    bodyTimeout: .seconds(1),
    maximumConnections: 1000
)

@Suite("Connections: a client that sends nothing, or too slowly, or opens too many, cannot hold the server")
struct ConnectionLimitsTests {
    @Test("a connection that sends nothing is closed after the header timeout")
    func silentConnection() async throws {
        try await withTestServer(clock: ContinuousClock(), connectionLimits: shortLimits) { server in
            let connection = try #require(RawConnection(port: server.port))
            let answer = await connection.readUntilClosed(timeout: closeWait)
            #expect(answer.closed && answer.text.isEmpty)
        }
    }

    @Test("a head sent a byte at a time is cut off at the header timeout, on a new or a reused connection")
    func slowHead() async throws {
        try await withTestServer(clock: ContinuousClock(), connectionLimits: shortLimits) { server in
            for reused in [false, true] {
                let connection = try #require(RawConnection(port: server.port))
                if reused { connection.send("GET /_palisade/health HTTP/1.1\r\nhost: x\r\n\r\n") }
                let reading = Task { await connection.readUntilClosed(timeout: closeWait) }
                for byte in "GET /_palisade/health HTTP/1.1\r\n" {
                    connection.send(String(byte))
                    try await Task.sleep(for: .milliseconds(100))
                }
                let answer = await reading.value
                #expect(answer.closed, "reused: \(reused)")
                #expect(answer.text.components(separatedBy: "HTTP/1.1 200").count == (reused ? 2 : 1))
            }
        }
    }

    @Test("a kept-alive connection is closed after the idle timeout, not before")
    func idleKeepAlive() async throws {
        let limits = ConnectionLimits(idleTimeout: .seconds(2), headerTimeout: .seconds(30), bodyTimeout: .seconds(30))
        try await withTestServer(clock: ContinuousClock(), connectionLimits: limits) { server in
            let connection = try #require(RawConnection(port: server.port))
            connection.send("GET /_palisade/health HTTP/1.1\r\nhost: x\r\n\r\n")
            let answer = await connection.readUntilClosed(timeout: closeWait, until: "\r\n\r\n")
            #expect(answer.text.hasPrefix("HTTP/1.1 200") && !answer.closed)
            let answered = ContinuousClock.now
            let later = await connection.readUntilClosed(timeout: closeWait)
            #expect(later.closed)
            #expect(ContinuousClock.now - answered > .milliseconds(1500), "closed before the idle timeout")
        }
    }

    @Test(
        "a body that stops arriving is answered 400 RequestTimeout in the path's format, and nothing is stored",
        arguments: [
            ("/bucket/stalled", "<Code>RequestTimeout</Code>"), ("/_palisade/v1/leases", #""code":"RequestTimeout""#),
        ]
    )
    func stalledBody(path: String, expected: String) async throws {
        try await withTestServer(clock: ContinuousClock(), connectionLimits: shortLimits) { server in
            try await makeBucket(server)
            let connection = try #require(RawConnection(port: server.port))
            let head = server.s3.signedRequestHead(
                path.hasPrefix("/bucket") ? "PUT" : "POST",
                path,
                headers: [("content-length", "100")]
            )
            connection.send(head + "0123456789")
            let answer = await connection.readUntilClosed(timeout: closeWait)
            #expect(answer.closed)
            #expect(answer.text.hasPrefix("HTTP/1.1 400"), "\(answer.text)")
            #expect(answer.text.contains(expected))
            #expect(try await server.s3.send("HEAD", "/bucket/stalled").status == 404)
        }
    }

    @Test("a blocking acquire that waits longer than every timeout is answered, not cut off")
    func longPollOutlastsTimeouts() async throws {
        try await withTestServer(clock: ContinuousClock(), connectionLimits: shortLimits) { server in
            let api = RawLockAPI(server: server)
            let holder = try await api.lease()
            let waiter = try await api.lease()
            _ = try await api.send("POST", "/_palisade/v1/locks/acquire", json: ["name": "l", "lease_id": holder])
            let waited = try await api.send(
                "POST",
                "/_palisade/v1/locks/acquire",
                json: ["name": "l", "lease_id": waiter, "wait_ms": 2500]
            )
            #expect(waited.status == 408 && waited.code == "WaitTimeout", "\(waited.json)")
        }
    }

    @Test("connections beyond the cap are closed at once; the server serves again when one closes")
    func connectionCap() async throws {
        let limits = ConnectionLimits(maximumConnections: 3)
        try await withTestServer(clock: ContinuousClock(), connectionLimits: limits) { server in
            var held = try (0..<3).map { _ in try #require(RawConnection(port: server.port)) }
            // Each held connection sent a whole head, so only the cap can close the fourth.
            for connection in held { connection.send("GET /_palisade/health HTTP/1.1\r\nhost: x\r\n\r\n") }
            for connection in held {
                let answer = await connection.readUntilClosed(timeout: closeWait, until: "\r\n\r\n")
                #expect(answer.text.hasPrefix("HTTP/1.1 200"))
            }
            let extra = try #require(RawConnection(port: server.port))
            let refused = await extra.readUntilClosed(timeout: closeWait)
            #expect(refused.closed && refused.text.isEmpty)
            held.removeLast()
            // The server frees the place once it sees the close; until then, new connections are refused.
            var metrics = ""
            let deadline = ContinuousClock.now + closeWait
            while !metrics.hasPrefix("HTTP/1.1 200"), ContinuousClock.now < deadline {
                let probe = try #require(RawConnection(port: server.port))
                probe.send("GET /_palisade/metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                metrics = await probe.readUntilClosed(timeout: closeWait).text
                if !metrics.hasPrefix("HTTP/1.1 200") { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(metrics.hasPrefix("HTTP/1.1 200"), "the server serves again")
            #expect(metrics.contains("palisade_connections_refused_total") && !metrics.contains("refused_total 0\n"))
        }
    }
}
