import Foundation
import Histogram
import PalisadeClient
import PalisadeProtocol
import Synchronization

/// Acquire/release cycles against the lock service: throughput, acquire latency, hand-off latency
/// under contention, fairness, and safety counters checked during the run (they must read zero).
struct LockBench {
    enum Mode: String, CaseIterable {
        /// Every client cycles its own lock.
        case uncontended
        /// All clients cycle one lock.
        case contended
        /// Half the clients share one lock, the others have their own.
        case mixed
    }

    /// One measured run.
    struct Result: Codable {
        var mode: String
        var clients: Int
        var cycles: Int
        var seconds: Double
        var cyclesPerSecond: Double
        var acquireP50Microseconds: UInt64
        var acquireP90Microseconds: UInt64
        var acquireP99Microseconds: UInt64
        var acquireMaxMicroseconds: UInt64
        var handOffP50Microseconds: UInt64?
        var fairness: Double
        var overlappingCriticalSections: Int
        var tokensOutOfOrder: Int
    }

    /// What the clients of the shared lock observe together.
    final class SharedLock: Sendable {
        private struct State {
            var inside = 0
            var overlaps = 0
            var lastToken: FencingToken?
            var outOfOrder = 0
            var releasedAt: ContinuousClock.Instant?
            var handOffs = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        }

        private let state = Mutex(State())

        /// A client got the lock with `token`; its acquire began at `began` (a hand-off when that was
        /// before the previous holder released).
        func enter(_ token: FencingToken, began: ContinuousClock.Instant) {
            let now = ContinuousClock.now
            state.withLock { state in
                if state.inside != 0 { state.overlaps += 1 }
                state.inside += 1
                if let last = state.lastToken, token <= last { state.outOfOrder += 1 }
                state.lastToken = token
                if let released = state.releasedAt, began < released {
                    _ = state.handOffs.record(microseconds(released.duration(to: now)))
                }
            }
        }

        func leave() {
            state.withLock { state in
                state.inside -= 1
                state.releasedAt = .now
            }
        }

        var counters: (overlaps: Int, outOfOrder: Int, handOffP50: UInt64?) {
            state.withLock {
                ($0.overlaps, $0.outOfOrder, $0.handOffs.totalCount > 0 ? $0.handOffs.valueAtPercentile(50) : nil)
            }
        }
    }

    let client: LockClient
    let mode: Mode
    let duration: Duration

    func run(clients: Int) async throws -> Result {
        let shared = SharedLock()
        let runID = UUID().uuidString.prefix(8)
        let start = ContinuousClock.now
        let deadline = start + duration
        var latencies = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var counts: [(cycles: Int, contended: Bool)] = []
        try await withThrowingTaskGroup(of: (Histogram<UInt64>, Int, Bool).self) { group in
            for index in 0..<clients {
                let contended = mode == .contended || (mode == .mixed && index % 2 == 0)
                let name = LockName(rawValue: contended ? "bench/\(runID)/hot" : "bench/\(runID)/own-\(index)")!
                group.addTask {
                    var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
                    var cycles = 0
                    let lease = try await client.grantLease(ttl: .seconds(30))
                    while ContinuousClock.now < deadline {
                        let began = ContinuousClock.now
                        let grant = try await client.acquire(name, lease: lease.leaseID, wait: .seconds(30))
                        let waited = began.duration(to: .now)
                        _ = histogram.record(microseconds(waited))
                        if contended { shared.enter(grant.token, began: began) }
                        if contended { shared.leave() }
                        _ = try await client.release(name, lease: lease.leaseID, token: grant.token)
                        cycles += 1
                        if cycles % 64 == 0 { _ = try await client.keepAlive(lease.leaseID) }
                    }
                    _ = try? await client.revokeLease(lease.leaseID)
                    return (histogram, cycles, contended)
                }
            }
            for try await (histogram, cycles, contended) in group {
                latencies.add(histogram)
                counts.append((cycles, contended))
            }
        }
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let total = counts.reduce(0) { $0 + $1.cycles }
        // Jain's index over the clients that share a lock (all clients when none do).
        let sharing = counts.contains { $0.contended } ? counts.filter(\.contended).map(\.cycles) : counts.map(\.cycles)
        let (overlaps, outOfOrder, handOff) = shared.counters
        return Result(
            mode: mode.rawValue,
            clients: clients,
            cycles: total,
            seconds: seconds,
            cyclesPerSecond: Double(total) / seconds,
            acquireP50Microseconds: latencies.valueAtPercentile(50),
            acquireP90Microseconds: latencies.valueAtPercentile(90),
            acquireP99Microseconds: latencies.valueAtPercentile(99),
            acquireMaxMicroseconds: latencies.maxRecorded,
            handOffP50Microseconds: handOff,
            fairness: Self.jainIndex(sharing),
            overlappingCriticalSections: overlaps,
            tokensOutOfOrder: outOfOrder
        )
    }
}

extension LockBench {
    /// Jain's fairness index: 1 when every client got the same share, 1/n when one got everything.
    static func jainIndex(_ shares: [Int]) -> Double {
        let sum = Double(shares.reduce(0, +))
        let squares = shares.reduce(0.0) { $0 + Double($1) * Double($1) }
        return squares > 0 ? sum * sum / (Double(shares.count) * squares) : 1
    }
}

/// Whole microseconds of a duration.
func microseconds(_ duration: Duration) -> UInt64 {
    UInt64(max(0, duration.components.seconds)) * 1_000_000
        + UInt64(max(0, duration.components.attoseconds) / 1_000_000_000_000)
}
