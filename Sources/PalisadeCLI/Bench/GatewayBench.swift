import Foundation
import Histogram
import NIOCore
import PalisadeAuth
import PalisadeClient

/// PUT, GET or mixed load against the S3 gateway: ops/s, MB/s and latency percentiles per client count.
struct GatewayBench {
    enum Operation: String, CaseIterable {
        case put, get, mixed
    }

    /// One measured run.
    struct Result: Codable {
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
    }

    let client: ObjectClient
    let operation: Operation
    let objectSize: Int
    let duration: Duration
    let bucket = "palisade-bench"

    /// Runs `clients` concurrent clients for `duration`, each doing the operation in a loop.
    func run(clients: Int) async throws -> Result {
        try await client.createBucket(bucket)
        let payload = ByteBuffer(bytes: (0..<objectSize).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        if operation != .put {
            for index in 0..<clients { _ = try await client.put(bucket: bucket, key: key(index), body: payload) }
        }
        let start = ContinuousClock.now
        let deadline = start + duration
        var latencies = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var operations = 0
        var errors = 0
        try await withThrowingTaskGroup(of: (Histogram<UInt64>, Int, Int).self) { group in
            for index in 0..<clients {
                group.addTask {
                    var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
                    var count = 0
                    var failures = 0
                    while ContinuousClock.now < deadline {
                        let began = ContinuousClock.now
                        do {
                            switch operation == .mixed ? (count % 2 == 0 ? .put : .get) : operation {
                            case .put: _ = try await client.put(bucket: bucket, key: key(index), body: payload)
                            default: _ = try await client.getDiscarding(bucket: bucket, key: key(index))
                            }
                        } catch {
                            failures += 1
                        }
                        _ = histogram.record(microseconds(began.duration(to: .now)))
                        count += 1
                    }
                    return (histogram, count, failures)
                }
            }
            for try await (histogram, count, failures) in group {
                latencies.add(histogram)
                operations += count
                errors += failures
            }
        }
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Result(
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
