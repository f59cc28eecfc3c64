import Foundation
import PalisadeTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    /// Opens a TCP connection to `endpoint` (`http://127.0.0.1:port`) that sends nothing.
    static func silentConnection(to endpoint: String) throws -> Int32 {
        let port = try #require(endpoint.split(separator: ":").last.flatMap { UInt16($0) })
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        return socket
    }

    @Test("a connection that never sent a request does not hold up the server's shutdown")
    func silentConnectionIsClosed() async throws {
        let started = ContinuousClock.now
        let (socket, watchdog) = try await withTestServer { server in
            let socket = try Self.silentConnection(to: server.endpoint)
            // Should the server wait for the connection, end the wait after 10 s so the test fails, not hangs.
            let watchdog = Task {
                try await Task.sleep(for: .seconds(10))
                Glibc.shutdown(socket, Int32(SHUT_RDWR))
            }
            // A request on another connection, so the server is surely serving.
            _ = try await server.client.grantLease(ttl: .seconds(5))
            return (socket, watchdog)
        }
        watchdog.cancel()
        defer { close(socket) }
        let elapsed = started.duration(to: .now)
        #expect(elapsed < .seconds(10), "shutting down took \(elapsed): the silent connection held it up")
        var byte: UInt8 = 0
        #expect(read(socket, &byte, 1) == 0, "the server closed the silent connection")
    }
}
