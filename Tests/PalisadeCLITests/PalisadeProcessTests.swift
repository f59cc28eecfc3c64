import Foundation
import PalisadeClient
import PalisadeProtocol
import PalisadeTestSupport
import Testing

@testable import PalisadeCLI

/// The `palisade` executable built beside the test bundle.
let palisadeExecutable: String = {
    let testBinary =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent("palisade").path
}()

/// Runs `palisade` with `arguments` and waits for it; returns the exit status.
func runPalisade(_ arguments: [String], environment: [String: String]) async throws -> Int32 {
    await exitStatus(of: try startPalisade(arguments, environment: environment))
}

/// A `palisade` process a test started.
struct PalisadeProcess: Sendable {
    let processIdentifier: pid_t

    /// Sends SIGTERM.
    func terminate() { kill(processIdentifier, SIGTERM) }
}

/// Waits for `process` to exit and returns its status (once per process). A process still running
/// after `limit` is recorded as a failure and killed (SIGKILL), so one that never stops fails its
/// test instead of hanging the suite.
func exitStatus(of process: PalisadeProcess, within limit: Duration = .seconds(120)) async -> Int32 {
    let watchdog = Task {
        try await Task.sleep(for: limit)
        Issue.record("palisade (pid \(process.processIdentifier)) was still running after \(limit): killed")
        kill(process.processIdentifier, SIGKILL)
    }
    defer { watchdog.cancel() }
    return await ChildProcess.exitStatus(of: process.processIdentifier)
}

/// Starts `palisade` with `arguments`, its standard output discarded. It is spawned as `palisade lock
/// run` spawns commands (posix_spawn): Foundation's `Process.run()` crashed here twice under load.
func startPalisade(_ arguments: [String], environment: [String: String]) throws -> PalisadeProcess {
    guard let pid = ChildProcess.spawn([palisadeExecutable] + arguments, environment: environment, quiet: true) else {
        throw CocoaError(.executableLoad)
    }
    return PalisadeProcess(processIdentifier: pid)
}

func clientEnvironment(_ server: TestServer<ContinuousClock>) -> [String: String] {
    [
        "PALISADE_ENDPOINT": server.endpoint, "PALISADE_ACCESS_KEY": server.credentials.accessKeyID,
        "PALISADE_SECRET_KEY": server.credentials.secretAccessKey,
    ]
}

@Suite("palisade lock run, end to end")
struct LockRunTests {
    @Test("four concurrent runs on one lock serialize, each seeing a higher fencing token")
    func concurrentRunsSerialize() async throws {
        try await withTestServer { server in
            let log = try makeTemporaryDirectory() + "/log"
            let script =
                #"echo "start $PALISADE_FENCING_TOKEN $PALISADE_LOCK" >> "$LOG"; sleep 0.2; echo "end $PALISADE_FENCING_TOKEN" >> "$LOG""#
            let environment = clientEnvironment(server).merging(["LOG": log]) { _, new in new }
            let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await runPalisade(
                            ["lock", "run", "nightly-job", "--wait", "60s", "--", "sh", "-c", script],
                            environment: environment
                        )
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == [0, 0, 0, 0])
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines.count == 8)
            var previous = 0
            for pair in stride(from: 0, to: lines.count, by: 2) {
                let start = lines[pair].split(separator: " ")
                let end = lines[pair + 1].split(separator: " ")
                #expect(start.first == "start" && end.first == "end" && start[1] == end[1], "interleaved: \(lines)")
                #expect(start.last == "nightly-job")
                let token = Int(start[1]) ?? 0
                #expect(token > previous)
                previous = token
            }
        }
    }

    @Test("the command's exit status is passed through; a lock not acquired in time exits 75")
    func exitStatuses() async throws {
        try await withTestServer { server in
            let environment = clientEnvironment(server)
            #expect(
                try await runPalisade(["lock", "run", "a", "--", "sh", "-c", "exit 3"], environment: environment) == 3
            )
            let holder = try await server.client.grantLease(ttl: .seconds(30))
            _ = try await server.client.acquire("a", lease: holder.leaseID, wait: .zero)
            #expect(
                try await runPalisade(["lock", "run", "a", "--wait", "200ms", "--", "true"], environment: environment)
                    == 75
            )
        }
    }

    @Test("when the lease is lost the command gets SIGTERM and palisade exits 76")
    func leaseLost() async throws {
        try await withTestServer { server in
            let directory = try makeTemporaryDirectory()
            let (ready, marker) = (directory + "/ready", directory + "/terminated")
            // The command says when its SIGTERM handler is in place: a revocation before that would
            // end it by the signal's default action, which is not what this test is about.
            let script =
                #"import os, signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: (open(os.environ["MARKER"], "w").write("TERM"), sys.exit(143))); open(os.environ["READY"], "w").close(); time.sleep(30)"#
            let environment = clientEnvironment(server).merging(["MARKER": marker, "READY": ready]) { _, new in new }
            let run = Task {
                try await runPalisade(
                    ["lock", "run", "b", "--ttl", "30s", "--", "python3", "-c", script],
                    environment: environment
                )
            }
            for _ in 0..<600 where !FileManager.default.fileExists(atPath: ready) {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(FileManager.default.fileExists(atPath: ready), "the command never installed its handler")
            let holder = try await server.client.status("b").holders.first?.leaseID
            _ = try await server.client.revokeLease(try #require(holder))
            #expect(try await run.value == 76)
            #expect(FileManager.default.fileExists(atPath: marker))
        }
    }
}

@Suite("palisade serve: crash, restart and graceful shutdown")
struct ServeCrashTests {
    func startServer(directory: String, port: Int) async throws -> PalisadeProcess {
        let process = try startPalisade(
            [
                "serve", "--data-dir", directory, "--port", String(port), "--access-key", testCredentials.accessKeyID,
                "--secret-key", testCredentials.secretAccessKey, "--log-level", "warning",
            ],
            environment: [:]
        )
        let client = LockClient(
            configuration: .init(endpoint: "http://127.0.0.1:\(port)", credentials: testCredentials)
        )
        for _ in 0..<200 {
            if (try? await client.status("probe")) != nil { return process }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        _ = await exitStatus(of: process)
        throw LockClientError(code: "NotStarted", message: "palisade serve did not start on port \(port)")
    }

    @Test("after kill -9 and a restart, tokens are higher and the old holder still holds")
    func killAndRestart() async throws {
        let directory = try makeTemporaryDirectory()
        let port = try BenchServer.freeLoopbackPort()
        let client = LockClient(
            configuration: .init(endpoint: "http://127.0.0.1:\(port)", credentials: testCredentials)
        )

        let first = try await startServer(directory: directory, port: port)
        let lease = try await client.grantLease(ttl: .seconds(60))
        var tokens: [FencingToken] = []
        for index in 0..<5 {
            tokens.append(
                try await client.acquire(LockName(rawValue: "k\(index)")!, lease: lease.leaseID, wait: .zero).token
            )
        }
        kill(first.processIdentifier, SIGKILL)
        _ = await exitStatus(of: first)

        let second = try await startServer(directory: directory, port: port)
        do {
            let rival = try await client.grantLease(ttl: .seconds(60))
            let next = try await client.acquire("fresh", lease: rival.leaseID, wait: .zero)
            #expect(next.token > tokens.max()!)
            let status = try await client.status("k0")
            #expect(status.holders.map(\.token) == [tokens[0]])
            let refused = await #expect(throws: LockClientError.self) {
                try await client.acquire("k0", lease: rival.leaseID, wait: .zero)
            }
            #expect(refused?.code == LockAPIErrorCode.lockHeld)
        } catch {
            Issue.record(error)
        }
        second.terminate()
        #expect(await exitStatus(of: second) == 0)
    }

    @Test("SIGTERM shuts the server down gracefully: a waiting acquire gets ServiceUnavailable, exit status 0")
    func gracefulShutdown() async throws {
        let port = try BenchServer.freeLoopbackPort()
        let client = LockClient(
            configuration: .init(endpoint: "http://127.0.0.1:\(port)", credentials: testCredentials)
        )
        let server = try await startServer(directory: try makeTemporaryDirectory(), port: port)
        let holder = try await client.grantLease(ttl: .seconds(60))
        let waiter = try await client.grantLease(ttl: .seconds(60))
        _ = try await client.acquire("busy", lease: holder.leaseID, wait: .zero)
        let waiting = Task { try await client.acquire("busy", lease: waiter.leaseID, wait: .seconds(60)) }
        for _ in 0..<200 {
            if try await client.status("busy").waiters.count == 1 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(server.processIdentifier, SIGTERM)
        let error = await #expect(throws: LockClientError.self) { try await waiting.value }
        #expect(error?.code == LockAPIErrorCode.serviceUnavailable)
        #expect(await exitStatus(of: server) == 0)
    }
}

@Suite("palisade bench, end to end")
struct BenchRunTests {
    func runBench(
        _ arguments: [String],
        against server: TestServer<ContinuousClock>,
        duration: String = "300ms"
    ) async throws -> [[String: Any]] {
        let json = NSTemporaryDirectory() + "bench-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: json) }
        let status = try await runPalisade(
            ["bench"] + arguments + ["--endpoint", server.endpoint, "--duration", duration, "--json", json],
            environment: clientEnvironment(server)
        )
        #expect(status == 0, "palisade bench \(arguments) exited \(status)")
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))
        return try #require(rows as? [[String: Any]])
    }

    @Test("bench gateway --fenced measures fenced and unfenced writes, with no failed operation")
    func fencedGateway() async throws {
        try await withTestServer { server in
            let rows = try await runBench(
                ["gateway", "--op", "put", "--size", "4KiB", "--clients", "2", "--fenced"],
                against: server
            )
            #expect(rows.map { $0["target"] as? String } == ["palisade", "palisade-fenced"])
            for row in rows {
                #expect((row["operations"] as? Int ?? 0) > 0 && row["errors"] as? Int == 0)
                #expect((row["generatorCPUMicrosecondsPerOperation"] as? Double ?? 0) > 0)
            }
        }
    }

    @Test("bench locks contended: cycles, a hand-off latency, and safety counters at zero")
    func contendedLocks() async throws {
        try await withTestServer { server in
            let rows = try await runBench(
                ["locks", "--mode", "contended", "--clients", "4"],
                against: server,
                duration: "2s"
            )
            let row = try #require(rows.first)
            #expect((row["cycles"] as? Int ?? 0) > 0 && row["handOffP50Microseconds"] is Int)
            #expect((row["generatorCPUMicrosecondsPerCycle"] as? Double ?? 0) > 0)
            #expect(row["overlappingCriticalSections"] as? Int == 0 && row["tokensOutOfOrder"] as? Int == 0)
        }
    }
}
