import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How long a test waits for the server to close a connection: generous, as the whole suite
/// loads two cores; a test that passes returns as soon as the server closes.
let closeWait = Duration.seconds(20)

/// Sends raw bytes to 127.0.0.1:`port`, optionally closes the sending side, and returns whatever
/// the server answered before closing or ``closeWait``.
func rawExchange(port: Int, _ bytes: [UInt8], closeWriteSide: Bool) async -> String {
    guard let connection = RawConnection(port: port) else { return "" }
    connection.send(bytes)
    if closeWriteSide { connection.closeWriteSide() }
    return await connection.readUntilClosed(timeout: closeWait).text
}

/// A blocking TCP connection to 127.0.0.1, for tests that send a request slowly or not at all.
final class RawConnection: @unchecked Sendable {
    private let socket: Int32

    /// Connects to 127.0.0.1:`port`; nil when the connection is refused.
    init?(port: Int) {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socket)
            return nil
        }
    }

    deinit { close(socket) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Ends what this side sends (the server reads the end of the stream).
    func closeWriteSide() { shutdown(socket, Int32(SHUT_WR)) }

    /// Everything the server sends until it closes the connection (or, with `until`, until the
    /// text contains that), and whether it closed it within `timeout` (on a thread of its own:
    /// the calls block).
    func readUntilClosed(timeout: Duration, until: String? = nil) async -> (text: String, closed: Bool) {
        await withCheckedContinuation { continuation in
            Thread { [socket] in
                let deadline = ContinuousClock.now + timeout
                var answer: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while ContinuousClock.now < deadline {
                    var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
                    guard poll(&poller, 1, 100) >= 0 else { break }
                    guard poller.revents != 0 else { continue }
                    let count = recv(socket, &buffer, buffer.count, 0)
                    if count <= 0 {
                        return continuation.resume(returning: (String(decoding: answer, as: UTF8.self), true))
                    }
                    answer += buffer[..<count]
                    if let until, String(decoding: answer, as: UTF8.self).contains(until) { break }
                }
                continuation.resume(returning: (String(decoding: answer, as: UTF8.self), false))
            }.start()
        }
    }
}
