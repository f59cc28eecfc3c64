import LockCore
import PalisadeProtocol
import PalisadeTestSupport
import Testing

/// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("LockTable under random operation sequences")
struct LockTableRandomizedTests {
    /// The reference model the table's effects are checked against.
    struct Model {
        var leaseDeadlines: [LeaseID: ManualClock.Instant] = [:]
        var queues: [LockName: [LeaseID]] = [:]
        var lastToken: FencingToken = FencingToken(0)
        var holders: [LockName: [LeaseID: Grant]] = [:]
        var problems: [String] = []

        mutating func apply(_ effects: [Table.Effect], at now: ManualClock.Instant) {
            for effect in effects {
                switch effect {
                case .holderAdded(let grant):
                    if grant.token <= lastToken { problems.append("token \(grant.token) after \(lastToken)") }
                    lastToken = grant.token
                    if let deadline = leaseDeadlines[grant.lease], !(now < deadline) {
                        problems.append("granted '\(grant.name)' to lease \(grant.lease) whose TTL had passed")
                    }
                    holders[grant.name, default: [:]][grant.lease] = grant
                    let modes = Set(holders[grant.name]!.values.map(\.mode))
                    if modes.count > 1 || (modes == [.exclusive] && holders[grant.name]!.count > 1) {
                        problems.append("lock '\(grant.name)' held by \(holders[grant.name]!.count) in modes \(modes)")
                    }
                case .holderRemoved(let grant, _):
                    holders[grant.name]?[grant.lease] = nil
                case .waiterGranted(let key, _):
                    if queues[key.name]?.first != key.lease {
                        problems.append("woke \(key.lease) out of FIFO order on '\(key.name)'")
                    }
                    queues[key.name]?.removeAll { $0 == key.lease }
                case .waiterFailed(let key, let error):
                    if error.code != .superseded { queues[key.name]?.removeAll { $0 == key.lease } }
                case .leaseEnded(let id, _):
                    leaseDeadlines[id] = nil
                default:
                    break
                }
            }
        }
    }

    @Test("invariants, FIFO, mutual exclusion and token order hold after every step", arguments: 1...8)
    func randomSequences(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        var table = makeTable(lockDelay: .milliseconds(300), reservation: 16)
        var model = Model()
        var now = at(0)
        let names = ["a", "b", "c"].map(lock)
        let ids = (1...6).map(leaseID)
        for _ in 0..<2_000 {
            let name = names.randomElement(using: &random)!
            let id = ids.randomElement(using: &random)!
            var effects: [Table.Effect] = []
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<10:
                if table.lease(id, at: now) == nil {
                    let ttl = Duration.milliseconds(Int64.random(in: 1_000...4_000, using: &random))
                    effects = try table.grantLease(id, ttl: ttl, at: now)
                    model.leaseDeadlines[id] = now.advanced(by: ttl)
                }
            case 10..<20:
                if let (deadline, renewal) = try? table.keepAlive(id, at: now) {
                    effects = renewal
                    model.leaseDeadlines[id] = deadline
                }
            case 20..<50:
                let mode: LockMode = Bool.random(using: &random) ? .exclusive : .shared
                let wait = Duration.milliseconds(Int64.random(in: 0...3_000, using: &random))
                if let (outcome, acquired) = try? table.acquire(name, lease: id, mode: mode, wait: wait, at: now) {
                    effects = acquired
                    if case .queued = outcome, !(model.queues[name]?.contains(id) ?? false) {
                        model.queues[name, default: []].append(id)
                    }
                }
            case 50..<75:
                let token =
                    Bool.random(using: &random)
                    ? table.lease(id, at: now)?.grants.first { $0.name == name }?.token : nil
                effects = (try? table.release(name, lease: id, token: token, at: now))?.effects ?? []
            case 75..<78:
                effects = (try? table.revokeLease(id, at: now))?.effects ?? []
            case 78..<80:
                effects = table.forceRelease(name, at: now).effects
            default:
                now = now.advanced(by: .milliseconds(Int64.random(in: 1...700, using: &random)))
                effects = table.advance(to: now)
            }
            if let pending = table.tokens.pendingReservation {
                table.confirmReservation(through: FencingToken(pending))
            }
            model.apply(effects, at: now)
            let violations = table.invariantViolations()
            try #require(violations.isEmpty, "seed \(seed): \(violations)")
            try #require(model.problems.isEmpty, "seed \(seed): \(model.problems)")
        }
    }
}
