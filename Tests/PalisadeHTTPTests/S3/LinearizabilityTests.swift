import Foundation
import PalisadeClient
import PalisadeProtocol
import PalisadeTestSupport
import StorageCore
import Synchronization
import Testing

/// The operations clients saw, per key, and the accepted fenced writes.
final class History: Sendable {
    private struct State {
        var operations: [String: [RegisterOperation]] = [:]
        var fencedWrites: [(sequence: UInt64, token: FencingToken)] = []
        var refusals: [String: Int] = [:]
    }

    private let state = Mutex(State())
    let start = ContinuousClock.now

    func now() -> UInt64 {
        let elapsed = start.duration(to: .now)
        return UInt64(elapsed.components.seconds) * 1_000_000_000
            + UInt64(elapsed.components.attoseconds / 1_000_000_000)
    }

    func record(_ key: String, _ operation: RegisterOperation) {
        state.withLock { $0.operations[key, default: []].append(operation) }
    }
    func fencedWrite(sequence: UInt64, token: FencingToken) {
        state.withLock { $0.fencedWrites.append((sequence, token)) }
    }
    func refusal(_ code: String?) { state.withLock { $0.refusals[code ?? "none", default: 0] += 1 } }

    var operations: [String: [RegisterOperation]] { state.withLock { $0.operations } }
    var fencedWriteCount: Int { state.withLock { $0.fencedWrites.count } }
    var fencedTokensInCommitOrder: [FencingToken] {
        state.withLock { $0.fencedWrites.sorted { $0.sequence < $1.sequence }.map(\.token) }
    }
    /// Refused fenced writes by error code.
    var refusals: [String: Int] { state.withLock { $0.refusals } }
}

extension [RegisterOperation] {
    /// How many pairs of operations ran at the same time (each was called before the other answered).
    var overlappingPairs: Int {
        let sorted = self.sorted { $0.call < $1.call }
        var pairs = 0
        for (index, operation) in sorted.enumerated() {
            for later in sorted[(index + 1)...] {
                if later.call >= operation.answer { break }
                pairs += 1
            }
        }
        return pairs
    }
}

@Suite("A randomized concurrent history is linearizable per key")
struct LinearizabilityTests {
    @Test("8 clients × 300 operations, fenced and unfenced keys, holders whose leases expire under them")
    func randomizedHistory() async throws {
        try await withFencingServer { server, clock in
            try await server.store.setFenced(FencedPath(bucket: "bucket", prefix: "fenced/"), true)
            let keys = ["free/0", "free/1", "fenced/k"]
            let history = History()
            let s3 = server.s3
            let locks = server.client
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Chaos: after every three accepted fenced writes, every lease expires; the holders keep
                    // writing with their old tokens. It stops when the clients are done (the group is cancelled).
                    var expiredAt = 0
                    for _ in 0..<100_000 {
                        if history.fencedWriteCount >= expiredAt + 3 {
                            expiredAt = history.fencedWriteCount
                            clock.advance(by: .seconds(11))
                        }
                        do { try await Task.sleep(for: .milliseconds(5)) } catch { return }
                    }
                }
                for client in 0..<8 {
                    group.addTask {
                        var random = SystemRandomNumberGenerator()
                        var grant: FencingToken?
                        for step in 0..<300 {
                            let key = keys.randomElement(using: &random)!
                            let fencedKey = key.hasPrefix("fenced/")
                            if fencedKey, grant == nil, Int.random(in: 0..<3, using: &random) == 0 {
                                // The chaos may expire the lease before the acquire: then try again later.
                                let lease = try await locks.grantLease(ttl: .seconds(10))
                                grant = try? await locks.tryAcquire("bucket/fenced/k", lease: lease.leaseID)?.token
                            }
                            let headers = fencedKey ? grant.map { fenced("bucket/fenced/k", $0) } ?? [] : []
                            let call = history.now()
                            switch Int.random(in: 0..<10, using: &random) {
                            case 0..<5:
                                let answer = try await s3.send("GET", "/bucket/\(key)")
                                #expect(
                                    answer.status == 200 || answer.errorCode == "NoSuchKey",
                                    "a GET answered \(answer.status) \(answer.text)"
                                )
                                let value: String? = answer.status == 200 ? answer.text : nil
                                history.record(
                                    key,
                                    RegisterOperation(kind: .get(value), call: call, answer: history.now())
                                )
                            case 5..<9:
                                let value = "c\(client)-\(step)"
                                let answer = try await s3.send(
                                    "PUT",
                                    "/bucket/\(key)",
                                    headers: headers,
                                    body: Array(value.utf8)
                                )
                                if answer.status == 200 {
                                    history.record(
                                        key,
                                        RegisterOperation(kind: .put(value), call: call, answer: history.now())
                                    )
                                    if fencedKey, let grant,
                                        let sequence = answer.header("x-palisade-commit-sequence").flatMap(UInt64.init)
                                    {
                                        history.fencedWrite(sequence: sequence, token: grant)
                                    }
                                } else {
                                    // Refused writes take no effect; a fenced writer takes a new lock next time.
                                    #expect(fencedKey, "an unfenced write was refused: \(answer.text)")
                                    history.refusal(answer.errorCode)
                                    grant = nil
                                }
                            default:
                                let answer = try await s3.send("DELETE", "/bucket/\(key)", headers: headers)
                                if answer.status == 204 {
                                    history.record(
                                        key,
                                        RegisterOperation(kind: .delete, call: call, answer: history.now())
                                    )
                                    // A delete of a present key commits, and its token counts like a write's.
                                    if fencedKey, let grant,
                                        let sequence = answer.header("x-palisade-commit-sequence").flatMap(UInt64.init)
                                    {
                                        history.fencedWrite(sequence: sequence, token: grant)
                                    }
                                } else {
                                    #expect(fencedKey, "an unfenced delete was refused: \(answer.text)")
                                    history.refusal(answer.errorCode)
                                    grant = nil
                                }
                            }
                        }
                    }
                }
                for _ in 0..<8 { try await group.next() }
                group.cancelAll()
                try await group.waitForAll()
            }
            let operations = history.operations
            #expect(operations.values.reduce(0) { $0 + $1.count } > 1500, "enough operations to matter")
            let overlapping = operations.values.map(\.overlappingPairs).reduce(0, +)
            #expect(overlapping > 500, "only \(overlapping) pairs of operations ran at the same time")
            let refusals = history.refusals
            #expect(
                refusals["StaleFencingToken", default: 0] + refusals["LockNotHeld", default: 0] > 0,
                "no write of a holder whose lease had ended was refused: \(refusals)"
            )
            #expect(
                Set(refusals.keys).isSubset(of: ["StaleFencingToken", "LockNotHeld", "FencingTokenRequired"]),
                "refusals: \(refusals)"
            )
            for (key, keyHistory) in operations {
                #expect(LinearizabilityChecker.isLinearizable(keyHistory), "history of \(key) is not linearizable")
            }
            let tokens = history.fencedTokensInCommitOrder
            #expect(!tokens.isEmpty)
            #expect(
                zip(tokens, tokens.dropFirst()).allSatisfy { $0 <= $1 },
                "a fenced write by a former holder was accepted"
            )
        }
    }
}
