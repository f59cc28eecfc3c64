import Foundation
import PalisadeAuth
import PalisadeClient
import PalisadeIDs

#if canImport(Glibc)
import Glibc
#endif

/// A `palisade serve` started by a benchmark: this same executable, in a process of its own, on a
/// free loopback port with a fresh data folder, so the figures are those of the server as users run it.
struct BenchServer {
    let endpoint: String
    let credentials: SigV4Credentials
    let pid: pid_t
    let dataDirectory: String

    /// Starts the server and waits until it answers its health check.
    static func start(durability: String) async throws -> BenchServer {
        let port = try freeLoopbackPort()
        let directory = NSTemporaryDirectory() + "palisade-bench-" + RandomUUID.hex()
        let credentials = SigV4Credentials(
            accessKeyID: "BENCH" + RandomUUID.hex().prefix(12).uppercased(),
            secretAccessKey: RandomUUID.hex()
        )
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let arguments = [
            executable, "serve", "--port", String(port), "--data-dir", directory, "--access-key",
            credentials.accessKeyID,
            "--secret-key", credentials.secretAccessKey, "--durability", durability, "--log-level", "error",
        ]
        guard let pid = ChildProcess.spawn(arguments, environment: [:], quiet: true) else {
            throw BenchError("cannot start \(executable) serve")
        }
        let server = BenchServer(
            endpoint: "http://127.0.0.1:\(port)",
            credentials: credentials,
            pid: pid,
            dataDirectory: directory
        )
        let client = LockClient(
            configuration: .init(endpoint: server.endpoint, credentials: credentials, maximumAttempts: 1)
        )
        for _ in 0..<300 {
            if (try? await client.status("bench-probe")) != nil { return server }
            try await Task.sleep(for: .milliseconds(50))
        }
        await server.stop()
        throw BenchError("palisade serve did not start on port \(port)")
    }

    /// The server's peak resident memory so far, in KiB (`VmHWM`).
    var peakMemoryKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return line.split(separator: " ").compactMap { Int($0) }.first
    }

    /// Stops the server gracefully and removes its data folder.
    func stop() async {
        kill(pid, SIGTERM)
        _ = await ChildProcess.exitStatus(of: pid)
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    static func freeLoopbackPort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw BenchError("cannot find a free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A benchmark that could not run.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
