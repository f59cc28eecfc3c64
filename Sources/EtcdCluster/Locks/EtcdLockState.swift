import LockCore
import PalisadeProtocol

/// One lock as cluster mode keeps it in etcd, read at one revision, and the lock rules applied to
/// it — the same rules as the embedded ``LockTable``: FIFO by arrival, one exclusive holder or many
/// shared ones, no grant during a lock-delay. Pure: no I/O, time is a parameter.
struct EtcdLockState: Sendable, Equatable {
    struct Holder: Sendable, Equatable {
        var lease: LeaseID
        var mode: LockMode
        /// The revision that recorded the grant: its fencing token.
        var token: FencingToken
        /// Whether the holder's lease is alive (a holding outlives its lease until someone clears it).
        var leaseAlive: Bool
    }

    struct Waiter: Sendable, Equatable {
        var lease: LeaseID
        var mode: LockMode
        /// Tells one acquire from a later one by the same lease (which supersedes it).
        var ticket: String
        /// Its create revision: the queue's order.
        var arrival: Int64
    }

    var name: LockName
    /// Holders in token order.
    var holders: [Holder]
    /// Waiters in arrival order.
    var waiters: [Waiter]
    /// When the lock-delay ends (ms since 1970), if one was set.
    var delayedUntilMs: Int64?

    /// What an acquire by `lease` in `mode` may do now.
    enum Decision: Sendable, Equatable {
        /// The lease already holds the lock in this mode: answer that grant again.
        case alreadyHeld(Holder)
        /// The lease holds or waits for the lock in the other mode.
        case modeConflict(held: LockMode)
        /// Holdings whose leases are gone must be cleared first: an unclean release (lock-delay).
        case clearStaleHolders([Holder])
        /// The lock may be granted to the lease now.
        case grant
        /// Not now: why, and when to look again at the latest (the end of a lock-delay).
        case blocked(reason: String, until: Int64?)
    }

    /// Decides an acquire of this lock by `lease` in `mode` at `nowMs`.
    func decide(lease: LeaseID, mode: LockMode, nowMs: Int64) -> Decision {
        if let held = holders.first(where: { $0.lease == lease }) {
            return held.mode == mode ? .alreadyHeld(held) : .modeConflict(held: held.mode)
        }
        if let queued = waiters.first(where: { $0.lease == lease }), queued.mode != mode {
            return .modeConflict(held: queued.mode)
        }
        let stale = holders.filter { !$0.leaseAlive }
        if !stale.isEmpty { return .clearStaleHolders(stale) }
        if let until = delayedUntilMs, nowMs < until {
            return .blocked(reason: "is in its lock-delay after an unclean release", until: until)
        }
        // A new acquire never passes a waiter; a queued one waits for those ahead of it.
        let queued = waiters.contains { $0.lease == lease }
        if !queued, !waiters.isEmpty { return .blocked(reason: "has waiters", until: nil) }
        let ahead = waiters.prefix { $0.lease != lease }
        switch mode {
        case .exclusive:
            if !holders.isEmpty { return .blocked(reason: "is held", until: nil) }
            if !ahead.isEmpty { return .blocked(reason: "has waiters", until: nil) }
        case .shared:
            if holders.contains(where: { $0.mode == .exclusive }) { return .blocked(reason: "is held", until: nil) }
            // A run of shared waiters at the head of the queue is served together.
            if ahead.contains(where: { $0.mode == .exclusive }) { return .blocked(reason: "has waiters", until: nil) }
        }
        return .grant
    }

    /// What a blocked acquire by `lease` in `mode` waits for.
    enum Awaited: Sendable, Equatable {
        /// The holders (and the lock-delay): the lease is at the head of the queue, or in the run
        /// of shared waiters there.
        case holders
        /// The waiter just ahead of it: only its grant or its leaving can move this one forward.
        case predecessor(LeaseID)
    }

    /// What a blocked acquire by `lease` in `mode` must see change before it can be granted: a
    /// release wakes the head of the queue alone, and each grant the next in line (etcd's own
    /// lock recipe), not every waiter.
    func awaited(by lease: LeaseID, mode: LockMode) -> Awaited {
        let ahead = waiters.prefix { $0.lease != lease }
        let blockedByAhead = mode == .shared ? ahead.contains { $0.mode == .exclusive } : !ahead.isEmpty
        guard blockedByAhead, let predecessor = ahead.last else { return .holders }
        return .predecessor(predecessor.lease)
    }

    /// The 1-based queue position of `lease`, if it waits.
    func position(of lease: LeaseID) -> Int? {
        waiters.firstIndex { $0.lease == lease }.map { $0 + 1 }
    }
}
