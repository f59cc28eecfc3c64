import Foundation
import NIOCore
import PalisadeClient
import PalisadeProtocol

/// The headline: writers doing read-modify-write on one counter object, (a) with no lock,
/// (b) with locks but no fencing while some holders pause past their lease, (c) with locks and
/// fencing. Lost updates are the acknowledged increments missing from the final counter.
struct ContentionBench {
    enum Strategy: String, CaseIterable {
        case noLock = "no lock (last writer wins)"
        case lockWithoutFencing = "lock, no fencing"
        case lockWithFencing = "lock + fencing"
    }

    struct Result: Codable {
        var strategy: String
        var writers: Int
        var acknowledged: Int
        var finalValue: Int
        var lostUpdates: Int
        var refusedStaleWrites: Int
        var incrementsPerSecond: Double
    }

    let store: ObjectClient
    let duration: Duration
    /// Holders' leases: short, so that a pause outlasts them.
    let ttl = Duration.seconds(2)
    /// How often a holder pauses (a GC pause), and for how long: past its lease and the server's
    /// lock-delay (1 s by default), so that another writer can hold the lock meanwhile.
    let pauseProbability = 0.1
    let pause = Duration.milliseconds(3_500)
    let bucket = "palisade-bench"

    func run(_ strategy: Strategy, writers: Int) async throws -> Result {
        let key = "counter-\(UUID().uuidString.prefix(8))"
        let lock = LockName(rawValue: "\(bucket)/\(key)")!
        try await store.createBucket(bucket)
        _ = try await store.put(bucket: bucket, key: key, body: ByteBuffer(string: "0"))
        let start = ContinuousClock.now
        let deadline = start + duration
        var acknowledged = 0
        var refused = 0
        try await BenchProgress.reporting("\(strategy.rawValue), \(writers) writers", unit: "increments") { progress in
            try await withThrowingTaskGroup(of: (acknowledged: Int, refused: Int).self) { group in
                for _ in 0..<writers {
                    group.addTask {
                        var acknowledged = 0
                        var refused = 0
                        while ContinuousClock.now < deadline {
                            switch strategy {
                            case .noLock:
                                try await increment(key: key, fencing: [])
                                acknowledged += 1
                                progress.record()
                            case .lockWithoutFencing, .lockWithFencing:
                                guard let (lease, grant) = try await acquire(lock, until: deadline) else { continue }
                                let fencing: [(name: String, value: String)] =
                                    strategy == .lockWithFencing
                                    ? [
                                        (PalisadeHeaders.lock, lock.rawValue),
                                        (PalisadeHeaders.fencingToken, grant.token.description),
                                    ] : []
                                do {
                                    try await increment(key: key, fencing: fencing)
                                    acknowledged += 1
                                    progress.record()
                                } catch let error as ObjectClientError
                                    where ["StaleFencingToken", "LockNotHeld"].contains(error.code)
                                {
                                    refused += 1
                                }
                                _ = try? await store.locks.revokeLease(lease)
                            }
                        }
                        return (acknowledged, refused)
                    }
                }
                for try await counts in group {
                    acknowledged += counts.acknowledged
                    refused += counts.refused
                }
            }
        }
        let seconds = start.duration(to: .now).inSeconds
        let final = Int(String(buffer: try await store.get(bucket: bucket, key: key))) ?? 0
        return Result(
            strategy: strategy.rawValue,
            writers: writers,
            acknowledged: acknowledged,
            finalValue: final,
            lostUpdates: acknowledged - final,
            refusedStaleWrites: refused,
            incrementsPerSecond: Double(acknowledged) / seconds
        )
    }

    /// Takes `lock` under a fresh lease, waiting in slices shorter than the lease and renewing it
    /// in between (a waiter's lease must not expire in the queue). Nil when the run ends first.
    private func acquire(
        _ lock: LockName,
        until deadline: ContinuousClock.Instant
    ) async throws -> (LeaseID, GrantResponse)? {
        let lease = try await store.locks.grantLease(ttl: ttl).leaseID
        while ContinuousClock.now < deadline {
            do {
                return (lease, try await store.locks.acquire(lock, lease: lease, wait: ttl / 2))
            } catch  where error.code == LockAPIErrorCode.waitTimeout {
                _ = try await store.locks.keepAlive(lease)
            }
        }
        _ = try? await store.locks.revokeLease(lease)
        return nil
    }

    /// Reads the counter, sometimes pauses past the lease, and writes the counter plus one.
    private func increment(key: String, fencing: [(name: String, value: String)]) async throws {
        let value = Int(String(buffer: try await store.get(bucket: bucket, key: key))) ?? 0
        if Double.random(in: 0..<1) < pauseProbability { try await Task.sleep(for: pause) }
        _ = try await store.put(bucket: bucket, key: key, body: ByteBuffer(string: String(value + 1)), headers: fencing)
    }
}
