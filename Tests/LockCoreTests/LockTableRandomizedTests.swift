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
        /// The end of each lock's lock-delay after an unclean release.
        var delayedUntil: [LockName: ManualClock.Instant] = [:]
        let lockDelay: Duration
        var grants = 0
        var problems: [String] = []

        init(lockDelay: Duration) { self.lockDelay = lockDelay }

        /// Whether the model holds `id` alive at `now`.
        func isAlive(_ id: LeaseID, at now: ManualClock.Instant) -> Bool {
            leaseDeadlines[id].map { now < $0 } ?? false
        }

        /// Records a refused call: `code` must be one the call may answer, and `leaseNotFound`
        /// exactly when the model holds the lease dead.
        mutating func refused(
            _ call: String,
            _ code: LockError.Code,
            allowed: [LockError.Code],
            lease: LeaseID,
            at now: ManualClock.Instant
        ) {
            if !allowed.contains(code) { problems.append("\(call) refused with \(code)") }
            if (code == .leaseNotFound) == isAlive(lease, at: now) {
                problems.append(
                    "\(call) answered \(code) for a lease the model holds \(isAlive(lease, at: now) ? "alive" : "dead")"
                )
            }
        }

        mutating func apply(_ effects: [Table.Effect], at now: ManualClock.Instant) {
            for effect in effects {
                switch effect {
                case .holderAdded(let grant):
                    grants += 1
                    if let until = delayedUntil[grant.name], now < until {
                        problems.append("granted '\(grant.name)' during its lock-delay")
                    }
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
                case .holderRemoved(let grant, let reason):
                    holders[grant.name]?[grant.lease] = nil
                    if reason.isUnclean, lockDelay > .zero {
                        let until = now.advanced(by: lockDelay)
                        delayedUntil[grant.name] = max(delayedUntil[grant.name] ?? until, until)
                    }
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

    @Test(
        "invariants, FIFO (woken and immediate grants), the lock-delay, mutual exclusion, token order and the errors answered hold after every step",
        arguments: 1...8
    )
    func randomSequences(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        var table = makeTable(lockDelay: .milliseconds(300), reservation: 16)
        var model = Model(lockDelay: .milliseconds(300))
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
                do {
                    let (deadline, renewal) = try table.keepAlive(id, at: now)
                    if !model.isAlive(id, at: now) { model.problems.append("kept alive a lease the model holds dead") }
                    effects = renewal
                    model.leaseDeadlines[id] = deadline
                } catch {
                    model.refused("keep-alive", error.code, allowed: [.leaseNotFound], lease: id, at: now)
                }
            case 20..<50:
                let mode: LockMode = Bool.random(using: &random) ? .exclusive : .shared
                let wait = Duration.milliseconds(Int64.random(in: 0...3_000, using: &random))
                do {
                    let (outcome, acquired) = try table.acquire(name, lease: id, mode: mode, wait: wait, at: now)
                    effects = acquired
                    if case .queued = outcome, !(model.queues[name]?.contains(id) ?? false) {
                        model.queues[name, default: []].append(id)
                    }
                    let grantedNow = acquired.contains {
                        if case .holderAdded(let grant) = $0 { grant.lease == id } else { false }
                    }
                    if grantedNow, !(model.queues[name] ?? []).filter({ $0 != id }).isEmpty {
                        model.problems.append("granted '\(name)' at once to \(id) past \(model.queues[name]!) waiting")
                    }
                } catch {
                    let allowed: [LockError.Code] =
                        wait == .zero ? [.leaseNotFound, .modeConflict, .lockHeld] : [.leaseNotFound, .modeConflict]
                    model.refused("acquire", error.code, allowed: allowed, lease: id, at: now)
                }
            case 50..<75:
                let token =
                    Bool.random(using: &random)
                    ? table.lease(id, at: now)?.grants.first { $0.name == name }?.token : nil
                do {
                    effects = try table.release(name, lease: id, token: token, at: now).effects
                } catch {
                    model.refused("release", error.code, allowed: [.leaseNotFound, .notHolder], lease: id, at: now)
                }
            case 75..<78:
                do {
                    effects = try table.revokeLease(id, at: now).effects
                } catch {
                    model.refused("revoke", error.code, allowed: [.leaseNotFound], lease: id, at: now)
                }
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
        #expect(model.grants > 80, "seed \(seed): only \(model.grants) grants in 2 000 steps")
    }
}
