import Foundation
import Histogram
import NIOCore

/// PUT, GET or mixed load against the S3 gateway: ops/s, MB/s and latency percentiles per client count.
struct GatewayBench<Target: ObjectBenchTarget> {
    let target: Target
    let operation: GatewayOperation
    let objectSize: Int
    let length: BenchLength

    /// Runs `clients` concurrent clients for `length`, each doing the operation in a loop on an
    /// object of its own (at least once, however short the run).
    func run(clients: Int) async throws -> GatewayBenchResult {
        try await target.prepare()
        let payload = ByteBuffer(bytes: (0..<objectSize).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        if operation != .put {
            for index in 0..<clients {
                try await target.withWriter(of: key(index)) { writer in
                    try await target.put(key(index), payload, by: writer)
                }
            }
        }
        let start = ContinuousClock.now
        var latencies = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var operations = 0
        var errors = 0
        let label = "\(target.name) \(operation.rawValue) \(objectSize) B, \(clients) clients"
        try await BenchProgress.reporting(label, unit: "ops") { progress in
            try await withThrowingTaskGroup(of: (Histogram<UInt64>, Int, Int).self) { group in
                for index in 0..<clients {
                    group.addTask {
                        let key = key(index)
                        return try await target.withWriter(of: key) { writer in
                            var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
                            var count = 0
                            var failures = 0
                            repeat {
                                let began = ContinuousClock.now
                                do {
                                    switch operation == .mixed ? ((count + failures) % 2 == 0 ? .put : .get) : operation
                                    {
                                    case .put: try await target.put(key, payload, by: writer)
                                    default: _ = try await target.get(key, by: writer)
                                    }
                                } catch {
                                    // Failed operations are counted apart, never as throughput.
                                    failures += 1
                                    continue
                                }
                                _ = histogram.record(microseconds(began.duration(to: .now)))
                                count += 1
                                progress.record()
                            } while !length.isOver(after: count + failures, elapsed: start.duration(to: .now))
                            return (histogram, count, failures)
                        }
                    }
                }
                for try await (histogram, count, failures) in group {
                    latencies.add(histogram)
                    operations += count
                    errors += failures
                }
            }
        }
        let seconds = start.duration(to: .now).inSeconds
        return GatewayBenchResult(
            target: target.name,
            operation: operation.rawValue,
            objectSize: objectSize,
            clients: clients,
            operations: operations,
            seconds: seconds,
            operationsPerSecond: Double(operations) / seconds,
            megabytesPerSecond: Double(operations) * Double(objectSize) / seconds / 1_000_000,
            p50Microseconds: latencies.valueAtPercentile(50),
            p90Microseconds: latencies.valueAtPercentile(90),
            p99Microseconds: latencies.valueAtPercentile(99),
            maxMicroseconds: latencies.maxRecorded,
            errors: errors
        )
    }

    func key(_ client: Int) -> String { "objects/\(operation.rawValue)-\(objectSize)-\(client)" }
}

/// What the clients of a gateway benchmark do.
enum GatewayOperation: String, CaseIterable {
    case put, get, mixed
}

/// One measured run of ``GatewayBench``.
struct GatewayBenchResult: Codable {
    /// The store measured: `palisade`, `palisade-fenced` or `nginx`.
    var target: String
    var operation: String
    var objectSize: Int
    var clients: Int
    var operations: Int
    var seconds: Double
    var operationsPerSecond: Double
    var megabytesPerSecond: Double
    var p50Microseconds: UInt64
    var p90Microseconds: UInt64
    var p99Microseconds: UInt64
    var maxMicroseconds: UInt64
    var errors: Int
    /// The server's CPU time per operation (its process and children, from /proc), when known.
    var serverCPUMicrosecondsPerOperation: Double?
    /// The load generator's CPU time per operation (this process's).
    var generatorCPUMicrosecondsPerOperation: Double?
}
