import ArgumentParser
import Foundation
import PalisadeAuth
import PalisadeClient

/// `palisade bench …`: load generators that print figures (loopback only, bounded in time).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Palisade on this machine.",
        subcommands: [
            GatewayBenchCommand.self, LocksBenchCommand.self, ContentionBenchCommand.self, IDBenchCommand.self,
            ListingBenchCommand.self,
        ]
    )
}

/// `palisade bench gateway --op put --size 4KiB --clients 1,16 --duration 10s [--fenced]`.
struct GatewayBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "PUT/GET load on the S3 gateway: ops/s, MB/s, latency percentiles, server peak memory.",
        discussion: """
            Starts its own `palisade serve` on a free loopback port (a separate process, durable by default) \
            unless --endpoint is given (then PALISADE_ACCESS_KEY and PALISADE_SECRET_KEY sign the requests). \
            PUT bodies are sent with UNSIGNED-PAYLOAD so the client does not hash them. Each client works on \
            an object of its own. With --fenced, every load runs twice, unfenced and fenced (each client holds \
            a lock and every PUT carries its token), and the cost of fencing is printed. \
            --target nginx loads a WebDAV nginx at --endpoint instead (Benchmarks/peers/run.sh starts one).
            """
    )

    @Option(help: "put, get or mixed (alternating).")
    var op: String = "put"

    @Option(help: "Object size: a number of bytes, or with KiB, MiB, GiB.")
    var size: String = "4KiB"

    @Option(help: "Comma-separated client counts, one run each.")
    var clients: String = "1,16"

    @Flag(help: "Also run each load with fenced writes and report what fencing costs.")
    var fenced = false

    @Option(help: "palisade, or nginx (a WebDAV server at --endpoint) for comparison.")
    var target: String = "palisade"

    @OptionGroup var options: BenchOptions

    var clientCounts: [Int] { BenchOptions.counts(clients) }

    func validate() throws {
        guard GatewayOperation(rawValue: op) != nil else { throw ValidationError("--op is put, get or mixed") }
        guard Self.bytes(size) != nil else { throw ValidationError("--size is like 4096, 4KiB, 1MiB or 64MiB") }
        guard !clientCounts.isEmpty else { throw ValidationError("--clients is like 1,16,64") }
        guard ["palisade", "nginx"].contains(target) else { throw ValidationError("--target is palisade or nginx") }
        guard target == "palisade" || (options.endpoint != nil && !fenced) else {
            throw ValidationError("--target nginx needs --endpoint, and cannot be --fenced")
        }
    }

    static func bytes(_ text: String) -> Int? {
        for (suffix, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where text.hasSuffix(suffix) {
            return Int(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Int(text)
    }

    func run() async throws {
        let operation = GatewayOperation(rawValue: op)!
        let objectSize = Self.bytes(size)!
        let length = options.length
        let results =
            if target == "nginx", let endpoint = options.endpoint {
                try await measureNginx(at: endpoint, operation: operation, objectSize: objectSize, length: length)
            } else {
                try await measurePalisade(operation: operation, objectSize: objectSize, length: length)
            }
        try BenchTarget.writeJSON(results, to: options.json)
        if results.contains(where: { $0.errors > 0 }) { throw ExitCode(1) }
    }

    private func measureNginx(
        at endpoint: String,
        operation: GatewayOperation,
        objectSize: Int,
        length: BenchLength
    ) async throws -> [GatewayBenchResult] {
        let nginx = NginxObjectTarget(endpoint: endpoint, httpClient: LockClient.sharedHTTPClient)
        print("palisade bench gateway: nginx \(op) of \(size) objects, \(length), server \(endpoint)")
        Self.printHeader()
        let server = options.serverCPU(started: nil)
        return try await clientCounts.asyncMap { count in
            try await Self.report(
                GatewayBench(target: nginx, operation: operation, objectSize: objectSize, length: length),
                clients: count,
                server: server
            )
        }
    }

    private func measurePalisade(
        operation: GatewayOperation,
        objectSize: Int,
        length: BenchLength
    ) async throws -> [GatewayBenchResult] {
        let target = try await options.target()
        let client = ObjectClient(endpoint: target.endpoint, credentials: target.credentials, payloadSigning: .unsigned)
        let gateways = RoundRobin(client.endpoints)
        print(
            "palisade bench gateway: \(op) of \(size) objects, \(length), server \(target.started.map { "pid \($0.pid), \(options.durability)" } ?? target.endpoint)"
        )
        Self.printHeader()
        let printPeakMemory: (BenchServer) -> Void = { server in
            if let peak = server.peakMemoryKiB { print("server peak resident memory: \(peak / 1024) MiB") }
        }
        let server = options.serverCPU(started: target.started)
        return try await target.measure(beforeStop: printPeakMemory) {
            var results: [GatewayBenchResult] = []
            for count in clientCounts {
                for fencedRun in fenced ? [false, true] : [false] {
                    let store = PalisadeObjectTarget(client: client, gateways: gateways, fenced: fencedRun)
                    let bench = GatewayBench(
                        target: store,
                        operation: operation,
                        objectSize: objectSize,
                        length: length
                    )
                    results.append(try await Self.report(bench, clients: count, server: server))
                }
                if fenced, let fencedRun = results.last, let plain = results.dropLast().last {
                    let cost = 100 * (1 - fencedRun.operationsPerSecond / plain.operationsPerSecond)
                    print(String(format: "fencing costs %.1f %% of ops/s at %d clients", cost, count))
                }
            }
            return results
        }
    }

    static func printHeader() {
        print(
            "target             clients      ops/s        MB/s    p50 µs    p90 µs    p99 µs    max µs  errors  server CPU µs/op  generator CPU µs/op"
        )
    }

    /// Runs `bench` with `clients`, charging the server's CPU time to it; prints the row and returns it.
    static func report<Target>(
        _ bench: GatewayBench<Target>,
        clients: Int,
        server: ServerCPU?
    ) async throws -> GatewayBenchResult {
        var (result, cpu) = try await ServerCPU.charge(server, operations: \.operations) {
            try await bench.run(clients: clients)
        }
        result.serverCPUMicrosecondsPerOperation = cpu.server
        result.generatorCPUMicrosecondsPerOperation = cpu.generator
        print(
            result.target.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(
                    format: " %9d %10.0f %11.1f %9d %9d %9d %9d %7d",
                    result.clients,
                    result.operationsPerSecond,
                    result.megabytesPerSecond,
                    result.p50Microseconds,
                    result.p90Microseconds,
                    result.p99Microseconds,
                    result.maxMicroseconds,
                    result.errors
                ) + cpu.columns(widths: (18, 21))
        )
        return result
    }
}

/// Where a benchmark sends its load: a server it started, or one given with --endpoint (then
/// PALISADE_ACCESS_KEY and PALISADE_SECRET_KEY sign the requests).
struct BenchTarget {
    let endpoint: String
    let credentials: SigV4Credentials
    let started: BenchServer?

    /// Runs the measurements of `body`, and stops the server this command started whatever happens
    /// (after `beforeStop` looked at it).
    func measure<Result>(
        beforeStop: (BenchServer) -> Void = { _ in },
        _ body: () async throws -> [Result]
    ) async throws -> [Result] {
        let results: [Result]
        do {
            results = try await body()
        } catch {
            await started?.stop()
            throw error
        }
        if let started { beforeStop(started) }
        await started?.stop()
        return results
    }

    /// Writes `results` as JSON to `path`, when given.
    static func writeJSON(_ results: some Encodable, to path: String?) throws {
        guard let path else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(results).write(to: URL(fileURLWithPath: path))
    }

    static func resolve(endpoint: String?, durability: String) async throws -> BenchTarget {
        guard let endpoint else {
            let server = try await BenchServer.start(durability: durability)
            return BenchTarget(endpoint: server.endpoint, credentials: server.credentials, started: server)
        }
        let environment = ProcessInfo.processInfo.environment
        return BenchTarget(
            endpoint: endpoint,
            credentials: SigV4Credentials(
                accessKeyID: environment["PALISADE_ACCESS_KEY"] ?? "",
                secretAccessKey: environment["PALISADE_SECRET_KEY"] ?? ""
            ),
            started: nil
        )
    }
}

/// `palisade bench locks --mode contended --clients 1,8,64 --duration 10s [--target etcd|redis]`.
struct LocksBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locks",
        abstract: "Acquire/release cycles: cycles/s, acquire and hand-off latency, fairness, safety counters.",
        discussion: """
            uncontended: each client cycles its own lock; contended: all clients cycle one lock; mixed: \
            half and half. Each client keeps one lease (one connection for Redis). The safety counters \
            (overlapping critical sections, tokens out of grant order) are checked during the run and must \
            read zero. --target etcd (its lock API through the JSON gateway, token = grant revision) or \
            --target redis (SET NX PX, compare-and-delete release, no token) loads the peer at --endpoint \
            instead (Benchmarks/peers/run.sh starts them).
            """
    )

    @Option(help: "uncontended, contended or mixed.")
    var mode: String = "uncontended"

    @Option(help: "Comma-separated client counts, one run each.")
    var clients: String = "1,8,64"

    @Option(help: "palisade, etcd (http://host:port) or redis (redis://host:port) at --endpoint.")
    var target: String = "palisade"

    @Option(help: "For palisade: http (a signed request per call) or session (a lock session per client).")
    var transport: String = "http"

    @OptionGroup var options: BenchOptions

    var clientCounts: [Int] { BenchOptions.counts(clients) }

    func validate() throws {
        guard LockBenchMode(rawValue: mode) != nil else {
            throw ValidationError("--mode is uncontended, contended or mixed")
        }
        guard !clientCounts.isEmpty else { throw ValidationError("--clients is like 1,8,64") }
        guard ["palisade", "etcd", "redis"].contains(target) else {
            throw ValidationError("--target is palisade, etcd or redis")
        }
        guard ["http", "session"].contains(transport) else { throw ValidationError("--transport is http or session") }
        guard target == "palisade" || options.endpoint != nil else {
            throw ValidationError("--target \(target) needs --endpoint")
        }
    }

    func run() async throws {
        let mode = LockBenchMode(rawValue: mode)!
        let length = options.length
        var results: [LockBenchResult]
        switch (target, options.endpoint) {
        case ("etcd", let endpoint?):
            let etcd = EtcdLockTarget(endpoint: endpoint, httpClient: LockClient.sharedHTTPClient)
            results = try await measure(
                LockBench(target: etcd, mode: mode, length: length),
                server: endpoint,
                cpu: options.serverCPU(started: nil)
            )
        case ("redis", let endpoint?):
            let address = try Self.hostAndPort(endpoint)
            let redis = RedisLockTarget(host: address.host, port: address.port)
            results = try await measure(
                LockBench(target: redis, mode: mode, length: length),
                server: endpoint,
                cpu: options.serverCPU(started: nil)
            )
        default:
            let target = try await options.target()
            let palisade = PalisadeLockTarget(
                configuration: .init(
                    endpoint: target.endpoint,
                    credentials: target.credentials,
                    transport: transport == "session" ? .session : .http
                )
            )
            results = try await target.measure {
                try await measure(
                    LockBench(target: palisade, mode: mode, length: length),
                    server: target.started.map { "pid \($0.pid)" } ?? target.endpoint,
                    cpu: options.serverCPU(started: target.started)
                )
            }
            // A server this command started relaxed is named so in the results, beside durable runs.
            if target.started != nil, options.durability == "relaxed" {
                for index in results.indices { results[index].target += "-relaxed" }
            }
        }
        try BenchTarget.writeJSON(results, to: options.json)
        if results.contains(where: { $0.overlappingCriticalSections > 0 || ($0.tokensOutOfOrder ?? 0) > 0 }) {
            throw ExitCode(1)
        }
    }

    /// Runs `bench` once per client count, printing a row per run.
    private func measure<Target>(
        _ bench: LockBench<Target, ContinuousClock>,
        server: String,
        cpu: ServerCPU?
    ) async throws -> [LockBenchResult] {
        print("palisade bench locks: \(bench.target.name) \(mode), \(bench.length), server \(server)")
        print(
            "clients   cycles/s   p50 µs   p90 µs   p99 µs   max µs  hand-off p50 µs  fairness  overlaps  out-of-order  server CPU µs/cycle  generator CPU µs/cycle"
        )
        return try await clientCounts.asyncMap { count in
            var (result, charge) = try await ServerCPU.charge(cpu, operations: \.cycles) {
                try await bench.run(clients: count)
            }
            result.serverCPUMicrosecondsPerCycle = charge.server
            result.generatorCPUMicrosecondsPerCycle = charge.generator
            let latencies = String(
                format: "%7d %10.0f %8d %8d %8d %8d ",
                count,
                result.cyclesPerSecond,
                result.acquireP50Microseconds,
                result.acquireP90Microseconds,
                result.acquireP99Microseconds,
                result.acquireMaxMicroseconds
            )
            let handOff = result.handOffP50Microseconds.map { String($0) } ?? "-"
            let outOfOrder = result.tokensOutOfOrder.map { String($0) } ?? "n/a"
            let counters = String(format: " %9.3f %9d ", result.fairness, result.overlappingCriticalSections)
            print(
                latencies + handOff.leftPadded(to: 16) + counters + outOfOrder.leftPadded(to: 13)
                    + charge.columns(widths: (21, 24))
            )
            return result
        }
    }

    /// `redis://127.0.0.1:6379` → ("127.0.0.1", 6379).
    static func hostAndPort(_ endpoint: String) throws -> (host: String, port: Int) {
        let authority = endpoint.split(separator: "://", maxSplits: 1).last.map(String.init) ?? endpoint
        let parts = authority.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1].prefix { $0.isNumber }) else {
            throw ValidationError("--endpoint is like redis://127.0.0.1:6379")
        }
        return (String(parts[0]), port)
    }
}

extension String {
    /// The string right-aligned in `width` columns.
    func leftPadded(to width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}

extension Array {
    /// `transform` applied to each element in order, one at a time.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// `palisade bench contention --writers 2,8,32 --duration 10s`: lost updates without and with fencing.
struct ContentionBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contention",
        abstract:
            "Read-modify-write on one object: no lock, lock without fencing, lock with fencing; lost updates of each.",
        discussion: """
            Every writer reads a counter object and writes it back plus one; a tenth of the time it pauses \
            3.5 s before writing, past its 2 s lease and the server's 1 s lock-delay. With fencing the paused \
            write is refused (and not counted), so no acknowledged increment is lost; the command fails if one is.
            """
    )

    @Option(help: "Comma-separated writer counts, one run of each strategy each.")
    var writers: String = "2,8,32"

    @OptionGroup var options: BenchOptions

    var writerCounts: [Int] { BenchOptions.counts(writers) }

    func validate() throws {
        guard !writerCounts.isEmpty else { throw ValidationError("--writers is like 2,8,32") }
        guard options.operations == nil else { throw ValidationError("contention runs last a --duration") }
    }

    func run() async throws {
        let target = try await options.target()
        let bench = ContentionBench(
            store: ObjectClient(endpoint: target.endpoint, credentials: target.credentials),
            duration: options.duration.duration
        )
        print("palisade bench contention: \(options.duration.duration) per run")
        print("writers  strategy                     increments/s  acknowledged  final  lost updates  refused")
        let results = try await target.measure {
            var results: [ContentionBench.Result] = []
            for count in writerCounts {
                for strategy in ContentionBench.Strategy.allCases {
                    let result = try await bench.run(strategy, writers: count)
                    results.append(result)
                    let name = strategy.rawValue.padding(toLength: 27, withPad: " ", startingAt: 0)
                    print(
                        String(format: "%7d  ", count) + name
                            + String(
                                format: " %13.1f %13d %6d %13d %8d",
                                result.incrementsPerSecond,
                                result.acknowledged,
                                result.finalValue,
                                result.lostUpdates,
                                result.refusedStaleWrites
                            )
                    )
                }
            }
            return results
        }
        try BenchTarget.writeJSON(results, to: options.json)
        if results.contains(where: {
            $0.strategy == ContentionBench.Strategy.lockWithFencing.rawValue && $0.lostUpdates != 0
        }) {
            throw ExitCode(1)
        }
    }
}

/// The options every benchmark takes.
struct BenchOptions: ParsableArguments {
    @Option(help: "How long each run lasts.")
    var duration = DurationArgument(.seconds(10))

    @Option(help: "Each client does exactly this many operations (cycles), whatever the time (instead of --duration).")
    var operations: Int?

    @Option(help: "Use a running server instead of starting one; several gateways, comma-separated, share the clients.")
    var endpoint: String?

    @Option(help: "durable or relaxed, for the server this command starts.")
    var durability: String = "durable"

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    @Option(
        help: "The process id of the server at --endpoint (with its children), to report its CPU time per operation."
    )
    var serverPid: Int32?

    /// How long each run lasts: --operations when given, else --duration.
    var length: BenchLength {
        operations.map { .operationsPerClient(max(1, $0)) } ?? .duration(duration.duration)
    }

    /// Whose CPU time a run is charged: the server this command started, or --server-pid.
    func serverCPU(started: BenchServer?) -> ServerCPU? {
        (started?.pid ?? serverPid).map(ServerCPU.init(pid:))
    }

    /// The server to load: the one at --endpoint, or a new one.
    func target() async throws -> BenchTarget {
        try await BenchTarget.resolve(endpoint: endpoint, durability: durability)
    }

    /// The positive counts of a comma-separated list such as `1,8,64`.
    static func counts(_ text: String) -> [Int] {
        text.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
    }
}
