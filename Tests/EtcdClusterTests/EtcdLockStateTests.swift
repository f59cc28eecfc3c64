import PalisadeProtocol
import Testing

@testable import EtcdCluster

func lease(_ n: Int) -> LeaseID { LeaseID(rawValue: String(repeating: "0", count: 31) + String(n, radix: 16))! }

func holder(_ n: Int, _ mode: LockMode = .exclusive, token: UInt64 = 10, alive: Bool = true) -> EtcdLockState.Holder {
    EtcdLockState.Holder(lease: lease(n), mode: mode, token: FencingToken(token), leaseAlive: alive)
}

func waiter(_ n: Int, _ mode: LockMode = .exclusive, arrival: Int64) -> EtcdLockState.Waiter {
    EtcdLockState.Waiter(lease: lease(n), mode: mode, ticket: "t\(n)", arrival: arrival)
}

@Suite("EtcdLockState: the lock rules on a lock read from etcd")
struct EtcdLockStateTests {
    func state(
        holders: [EtcdLockState.Holder] = [],
        waiters: [EtcdLockState.Waiter] = [],
        delay: Int64? = nil
    ) -> EtcdLockState {
        EtcdLockState(name: "l", holders: holders, waiters: waiters, delayedUntilMs: delay)
    }

    @Test("a free lock is granted; a held one blocks a new acquire; the holder gets its grant again")
    func basics() {
        #expect(state().decide(lease: lease(1), mode: .exclusive, nowMs: 0) == .grant)
        let held = state(holders: [holder(1)])
        #expect(held.decide(lease: lease(2), mode: .exclusive, nowMs: 0) == .blocked(reason: "is held", until: nil))
        #expect(held.decide(lease: lease(2), mode: .shared, nowMs: 0) == .blocked(reason: "is held", until: nil))
        #expect(held.decide(lease: lease(1), mode: .exclusive, nowMs: 0) == .alreadyHeld(holder(1)))
        #expect(held.decide(lease: lease(1), mode: .shared, nowMs: 0) == .modeConflict(held: .exclusive))
    }

    @Test("FIFO: a new acquire never passes a waiter; the head is granted; shared waiters at the head together")
    func fifo() {
        let queued = state(waiters: [waiter(2, arrival: 5), waiter(3, arrival: 6)])
        #expect(
            queued.decide(lease: lease(4), mode: .exclusive, nowMs: 0) == .blocked(reason: "has waiters", until: nil)
        )
        #expect(queued.decide(lease: lease(2), mode: .exclusive, nowMs: 0) == .grant)
        #expect(
            queued.decide(lease: lease(3), mode: .exclusive, nowMs: 0) == .blocked(reason: "has waiters", until: nil)
        )
        let readers = state(
            holders: [holder(1, .shared)],
            waiters: [waiter(2, .shared, arrival: 5), waiter(3, .shared, arrival: 6)]
        )
        #expect(readers.decide(lease: lease(3), mode: .shared, nowMs: 0) == .grant)
        let writerFirst = state(waiters: [waiter(2, .exclusive, arrival: 5), waiter(3, .shared, arrival: 6)])
        #expect(
            writerFirst.decide(lease: lease(3), mode: .shared, nowMs: 0) == .blocked(reason: "has waiters", until: nil)
        )
    }

    @Test(
        "a waiter at the head (or among the shared waiters there) awaits the holders; one behind awaits its predecessor"
    )
    func awaited() {
        let queue = state(
            holders: [holder(1)],
            waiters: [
                waiter(2, .shared, arrival: 5), waiter(3, .shared, arrival: 6), waiter(4, arrival: 7),
                waiter(5, .shared, arrival: 8),
            ]
        )
        #expect(queue.awaited(by: lease(2), mode: .shared) == .holders)
        #expect(queue.awaited(by: lease(3), mode: .shared) == .holders)
        #expect(queue.awaited(by: lease(4), mode: .exclusive) == .predecessor(lease(3)))
        #expect(queue.awaited(by: lease(5), mode: .shared) == .predecessor(lease(4)))
        #expect(state(waiters: [waiter(2, arrival: 5)]).awaited(by: lease(2), mode: .exclusive) == .holders)
    }

    @Test("a holding whose lease ended is cleared first; the lock-delay withholds the grant until it ends")
    func staleAndDelay() {
        let stale = state(holders: [holder(1, alive: false)])
        #expect(
            stale.decide(lease: lease(2), mode: .exclusive, nowMs: 0) == .clearStaleHolders([holder(1, alive: false)])
        )
        let delayed = state(delay: 1_000)
        #expect(
            delayed.decide(lease: lease(2), mode: .exclusive, nowMs: 999)
                == .blocked(reason: "is in its lock-delay after an unclean release", until: 1_000)
        )
        #expect(delayed.decide(lease: lease(2), mode: .exclusive, nowMs: 1_000) == .grant)
    }
}
