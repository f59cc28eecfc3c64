import ArgumentParser
import Foundation
import PalisadeAuth
import PalisadeClient

/// `palisade bench …`: load generators that print figures (loopback only, bounded in time).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Palisade on this machine.",
        subcommands: [GatewayBenchCommand.self]
    )
}

/// `palisade bench gateway --op put --size 4KiB --clients 1,16 --duration 10s`.
struct GatewayBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "PUT/GET load on the S3 gateway: ops/s, MB/s, latency percentiles, server peak memory.",
        discussion: """
            Starts its own `palisade serve` on a free loopback port (a separate process, durable by default) \
            unless --endpoint is given (then PALISADE_ACCESS_KEY and PALISADE_SECRET_KEY sign the requests). \
            PUT bodies are sent with UNSIGNED-PAYLOAD so the client does not hash them.
            """
    )

    @Option(help: "put, get or mixed (alternating).")
    var op: String = "put"

    @Option(help: "Object size: a number of bytes, or with KiB, MiB, GiB.")
    var size: String = "4KiB"

    @Option(help: "Comma-separated client counts, one run each.")
    var clients: String = "1,16"

    @Option(help: "How long each run lasts.")
    var duration = DurationArgument(.seconds(10))

    @Option(help: "Use a running server instead of starting one.")
    var endpoint: String?

    @Option(help: "durable or relaxed, for the server this command starts.")
    var durability: String = "durable"

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        guard GatewayBench.Operation(rawValue: op) != nil else { throw ValidationError("--op is put, get or mixed") }
        guard Self.bytes(size) != nil else { throw ValidationError("--size is like 4096, 4KiB, 1MiB or 64MiB") }
        guard !clientCounts.isEmpty else { throw ValidationError("--clients is like 1,16,64") }
    }

    var clientCounts: [Int] { clients.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } }

    static func bytes(_ text: String) -> Int? {
        for (suffix, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where text.hasSuffix(suffix) {
            return Int(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Int(text)
    }

    func run() async throws {
        let started = endpoint == nil ? try await BenchServer.start(durability: durability) : nil
        let environment = ProcessInfo.processInfo.environment
        let credentials =
            started?.credentials
            ?? SigV4Credentials(
                accessKeyID: environment["PALISADE_ACCESS_KEY"] ?? "",
                secretAccessKey: environment["PALISADE_SECRET_KEY"] ?? ""
            )
        let bench = GatewayBench(
            client: ObjectClient(
                endpoint: endpoint ?? started!.endpoint,
                credentials: credentials,
                payloadSigning: .unsigned
            ),
            operation: GatewayBench.Operation(rawValue: op)!,
            objectSize: Self.bytes(size)!,
            duration: duration.duration
        )
        print(
            "palisade bench gateway: \(op) of \(size) objects, \(duration.duration) per run, server \(started.map { "pid \($0.pid), \(durability)" } ?? endpoint!)"
        )
        print("clients      ops/s        MB/s    p50 µs    p90 µs    p99 µs    max µs  errors")
        var results: [GatewayBench.Result] = []
        do {
            for count in clientCounts {
                let result = try await bench.run(clients: count)
                results.append(result)
                print(
                    String(
                        format: "%7d %10.0f %11.1f %9d %9d %9d %9d %7d",
                        count,
                        result.operationsPerSecond,
                        result.megabytesPerSecond,
                        result.p50Microseconds,
                        result.p90Microseconds,
                        result.p99Microseconds,
                        result.maxMicroseconds,
                        result.errors
                    )
                )
            }
        } catch {
            await started?.stop()
            throw error
        }
        if let peak = started?.peakMemoryKiB { print("server peak resident memory: \(peak / 1024) MiB") }
        await started?.stop()
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: json))
        }
    }
}
