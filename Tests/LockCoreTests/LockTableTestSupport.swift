import LockCore
import PalisadeProtocol
import PalisadeTestSupport
import Testing

typealias Table = LockTable<ManualClock.Instant>
typealias Effect = Table.Effect

/// An instant `seconds` after the start of a test.
func at(_ seconds: Double) -> ManualClock.Instant {
    ManualClock.Instant(offset: .milliseconds(Int64(seconds * 1000)))
}

func leaseID(_ n: Int) -> LeaseID {
    LeaseID(rawValue: String(repeating: "0", count: 31 - String(n, radix: 16).count) + "1" + String(n, radix: 16))!
}

func lock(_ name: String) -> LockName { LockName(rawValue: name)! }

func makeTable(lockDelay: Duration = .seconds(1), reservation: UInt64 = 1000) -> Table {
    Table(
        configuration: .init(lockDelay: lockDelay),
        tokens: TokenAllocator(issuedAtMost: 0, reservedThrough: reservation, reservationSize: reservation),
        at: at(0)
    )
}

extension LockTable where Instant == ManualClock.Instant {
    /// Grants leases 1...count with `ttl` at `now`.
    mutating func grantLeases(_ ids: ClosedRange<Int>, ttl: Duration = .seconds(10), at now: Instant = at(0)) throws {
        for id in ids { _ = try grantLease(leaseID(id), ttl: ttl, at: now) }
    }

    /// Acquires and expects an immediate grant.
    mutating func mustGrant(
        _ name: String,
        _ id: Int,
        mode: LockMode = .exclusive,
        at now: Instant = at(0)
    ) throws -> Grant {
        let (outcome, _) = try acquire(lock(name), lease: leaseID(id), mode: mode, wait: .zero, at: now)
        guard case .granted(let grant) = outcome else { throw LockError(.lockHeld, "expected a grant, got \(outcome)") }
        #expect(invariantViolations() == [])
        return grant
    }

    /// Acquires with a wait and expects to be queued.
    @discardableResult
    mutating func mustQueue(
        _ name: String,
        _ id: Int,
        mode: LockMode = .exclusive,
        wait: Duration = .seconds(60),
        at now: Instant = at(0)
    ) throws -> Int {
        let (outcome, _) = try acquire(lock(name), lease: leaseID(id), mode: mode, wait: wait, at: now)
        guard case .queued(let position) = outcome else {
            throw LockError(.lockHeld, "expected to queue, got \(outcome)")
        }
        #expect(invariantViolations() == [])
        return position
    }
}

/// The waiters woken by `effects`, in order.
func woken(_ effects: [Effect]) -> [LeaseID] {
    effects.compactMap { if case .waiterGranted(let key, _) = $0 { key.lease } else { nil } }
}

/// The grants handed out by `effects`, in order.
func granted(_ effects: [Effect]) -> [Grant] {
    effects.compactMap { if case .holderAdded(let grant) = $0 { grant } else { nil } }
}

/// The waiters ended with an error by `effects`, with the error code.
func failed(_ effects: [Effect]) -> [(LeaseID, LockError.Code)] {
    effects.compactMap { if case .waiterFailed(let key, let error) = $0 { (key.lease, error.code) } else { nil } }
}
