import Foundation
import Histogram
import Synchronization

/// Acquire/release cycles against the lock service: throughput, acquire latency, hand-off latency
/// under contention, fairness, and safety counters checked during the run (they must read zero).
/// Every client completes at least one cycle, however short the run.
///
/// Every time it measures is read from `clock`, so a test can run it on a clock it moves itself.
struct LockBench<Target: LockBenchTarget, C: Clock> where C.Duration == Duration {
    /// What the clients of the shared lock observe together.
    final class SharedLock: Sendable {
        private struct State {
            var inside = 0
            var overlaps = 0
            var lastToken: UInt64?
            var outOfOrder = 0
            var releasedAt: C.Instant?
            var handOffs = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        }

        private let state = Mutex(State())

        /// A client got the lock with `token` (nil when the service issues none); its acquire began
        /// at `began` (a hand-off when that was before the previous holder released) and ended `now`.
        func enter(_ token: UInt64?, began: C.Instant, now: C.Instant) {
            state.withLock { state in
                if state.inside != 0 { state.overlaps += 1 }
                state.inside += 1
                if let token {
                    if let last = state.lastToken, token <= last { state.outOfOrder += 1 }
                    state.lastToken = token
                }
                if let released = state.releasedAt, began < released {
                    _ = state.handOffs.record(microseconds(released.duration(to: now)))
                }
            }
        }

        func leave(at now: C.Instant) {
            state.withLock { state in
                state.inside -= 1
                state.releasedAt = now
            }
        }

        var counters: (overlaps: Int, outOfOrder: Int, handOffP50: UInt64?) {
            state.withLock {
                ($0.overlaps, $0.outOfOrder, $0.handOffs.totalCount > 0 ? $0.handOffs.valueAtPercentile(50) : nil)
            }
        }
    }

    let target: Target
    let mode: LockBenchMode
    let length: BenchLength
    let clock: C

    func run(clients: Int) async throws -> LockBenchResult {
        let shared = SharedLock()
        let runID = UUID().uuidString.prefix(8)
        let start = clock.now
        var latencies = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var counts: [(cycles: Int, contended: Bool)] = []
        try await BenchProgress.reporting("\(target.name) \(mode.rawValue), \(clients) clients", unit: "cycles") {
            progress in
            try await withThrowingTaskGroup(of: (Histogram<UInt64>, Int, Bool).self) { group in
                for index in 0..<clients {
                    let contended = mode == .contended || (mode == .mixed && index % 2 == 0)
                    let lock = contended ? "bench/\(runID)/hot" : "bench/\(runID)/own-\(index)"
                    group.addTask {
                        try await target.withSession { session in
                            var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
                            var cycles = 0
                            repeat {
                                let began = clock.now
                                let (holding, token) = try await target.acquire(lock, in: session)
                                let granted = clock.now
                                _ = histogram.record(microseconds(began.duration(to: granted)))
                                if contended {
                                    shared.enter(token, began: began, now: granted)
                                    // Inside the critical section, let the other clients run: a second
                                    // holder granted meanwhile is counted as an overlap.
                                    await Task.yield()
                                    shared.leave(at: clock.now)
                                }
                                try await target.release(lock, holding, in: session)
                                cycles += 1
                                progress.record()
                                if cycles % 64 == 0 { try await target.keepAlive(session) }
                            } while !length.isOver(after: cycles, elapsed: start.duration(to: clock.now))
                            return (histogram, cycles, contended)
                        }
                    }
                }
                for try await (histogram, cycles, contended) in group {
                    latencies.add(histogram)
                    counts.append((cycles, contended))
                }
            }
        }
        let seconds = start.duration(to: clock.now).inSeconds
        let total = counts.reduce(0) { $0 + $1.cycles }
        // Jain's index over the clients that share a lock (all clients when none do).
        let sharing = counts.contains { $0.contended } ? counts.filter(\.contended).map(\.cycles) : counts.map(\.cycles)
        let counters = shared.counters
        return LockBenchResult(
            target: target.name,
            mode: mode.rawValue,
            clients: clients,
            cycles: total,
            seconds: seconds,
            cyclesPerSecond: Double(total) / seconds,
            acquireP50Microseconds: latencies.valueAtPercentile(50),
            acquireP90Microseconds: latencies.valueAtPercentile(90),
            acquireP99Microseconds: latencies.valueAtPercentile(99),
            acquireMaxMicroseconds: latencies.maxRecorded,
            handOffP50Microseconds: counters.handOffP50,
            fairness: jainIndex(sharing),
            overlappingCriticalSections: counters.overlaps,
            tokensOutOfOrder: target.issuesFencingTokens ? counters.outOfOrder : nil
        )
    }
}

extension LockBench where C == ContinuousClock {
    init(target: Target, mode: LockBenchMode, length: BenchLength) {
        self.init(target: target, mode: mode, length: length, clock: ContinuousClock())
    }
}

/// Which locks the clients of a lock benchmark cycle.
enum LockBenchMode: String, CaseIterable {
    /// Every client cycles its own lock.
    case uncontended
    /// All clients cycle one lock.
    case contended
    /// Half the clients share one lock, the others have their own.
    case mixed
}

/// One measured run of ``LockBench``.
struct LockBenchResult: Codable {
    /// The lock service measured: `palisade`, `etcd` or `redis`.
    var target: String
    var mode: String
    var clients: Int
    var cycles: Int
    var seconds: Double
    var cyclesPerSecond: Double
    /// The server's CPU time per cycle (its process and children, from /proc), when known.
    var serverCPUMicrosecondsPerCycle: Double?
    /// The load generator's CPU time per cycle (this process's).
    var generatorCPUMicrosecondsPerCycle: Double?
    var acquireP50Microseconds: UInt64
    var acquireP90Microseconds: UInt64
    var acquireP99Microseconds: UInt64
    var acquireMaxMicroseconds: UInt64
    var handOffP50Microseconds: UInt64?
    var fairness: Double
    var overlappingCriticalSections: Int
    /// Nil when the service issues no fencing tokens (the Redis lock).
    var tokensOutOfOrder: Int?
}

/// Jain's fairness index: 1 when every client got the same share, 1/n when one got everything.
func jainIndex(_ shares: [Int]) -> Double {
    let sum = Double(shares.reduce(0, +))
    let squares = shares.reduce(0.0) { $0 + Double($1) * Double($1) }
    return squares > 0 ? sum * sum / (Double(shares.count) * squares) : 1
}

/// Whole microseconds of a duration.
func microseconds(_ duration: Duration) -> UInt64 {
    UInt64(max(0, duration.components.seconds)) * 1_000_000
        + UInt64(max(0, duration.components.attoseconds) / 1_000_000_000_000)
}
