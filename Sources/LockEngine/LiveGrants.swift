import LockCore
public import PalisadeProtocol
import Synchronization

/// A synchronous view of who holds which lock and until when, kept current by ``LockService``.
///
/// The storage gateway asks it, inside each fenced commit transaction, whether a token belongs to
/// its lock's live holder: a lease is alive while `now < deadline` on the service's clock, exactly
/// as the lock table decides, so an expired holder is refused even before the expiry timer fires.
public final class LiveGrants<C: Clock>: Sendable where C.Duration == Duration {
    private struct State {
        var holders: [LockName: [FencingToken: LeaseID]] = [:]
        var deadlines: [LeaseID: C.Instant] = [:]
    }

    private let state = Mutex(State())
    private let clock: C

    init(clock: C) { self.clock = clock }

    /// Whether `token` is held on `name` by a lease that is alive now.
    @_specialize(where C == ContinuousClock)
    public func isLiveHolder(_ name: LockName, token: FencingToken) -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let lease = state.holders[name]?[token], let deadline = state.deadlines[lease] else { return false }
            return now < deadline
        }
    }

    /// Forgets everything and holds exactly `leases`, each alive until `deadline(lease)`.
    func replaceAll(with leases: [LeaseRecord], deadline: (LeaseRecord) -> C.Instant) {
        var fresh = State()
        for lease in leases {
            fresh.deadlines[lease.id] = deadline(lease)
            for grant in lease.holdings { fresh.holders[grant.name, default: [:]][grant.token] = grant.lease }
        }
        state.withLock { $0 = fresh }
    }

    func added(_ grant: Grant) {
        state.withLock { $0.holders[grant.name, default: [:]][grant.token] = grant.lease }
    }

    func removed(_ grant: Grant) {
        state.withLock { state in
            state.holders[grant.name]?[grant.token] = nil
            if state.holders[grant.name]?.isEmpty == true { state.holders[grant.name] = nil }
        }
    }

    func renewed(_ lease: LeaseID, until deadline: C.Instant) {
        state.withLock { $0.deadlines[lease] = deadline }
    }

    func ended(_ lease: LeaseID) {
        state.withLock { _ = $0.deadlines.removeValue(forKey: lease) }
    }
}
