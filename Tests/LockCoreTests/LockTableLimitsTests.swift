import LockCore
import PalisadeProtocol
import PalisadeTestSupport
import Testing

@Suite("LockTable: each owner's leases and waiting acquires are bounded")
struct LockTableLimitsTests {
    func limitedTable(leases: Int = 3, waiters: Int = 2) -> Table {
        Table(
            configuration: .init(maximumLeasesPerOwner: leases, maximumWaitersPerOwner: waiters),
            tokens: TokenAllocator(issuedAtMost: 0, reservedThrough: 1000, reservationSize: 1000),
            at: at(0)
        )
    }

    @Test("an owner at its lease limit is refused; another owner is not; a revoke or an expiry makes room")
    func leaseLimit() throws {
        var table = limitedTable()
        for n in 1...3 { _ = try table.grantLease(leaseID(n), ttl: .seconds(10), owner: "alice", at: at(0)) }
        #expect(throws: LockError.self) {
            _ = try table.grantLease(leaseID(4), ttl: .seconds(10), owner: "alice", at: at(0))
        }
        do {
            _ = try table.grantLease(leaseID(4), ttl: .seconds(10), owner: "alice", at: at(0))
        } catch {
            #expect(error.code == .tooManyLeases)
        }
        _ = try table.grantLease(leaseID(5), ttl: .seconds(10), owner: "bob", at: at(0))
        _ = try table.revokeLease(leaseID(1), at: at(1))
        _ = try table.grantLease(leaseID(6), ttl: .seconds(10), owner: "alice", at: at(1))
        // Past their deadline, leases 2 and 3 no longer count, even before the timer has run.
        _ = try table.grantLease(leaseID(7), ttl: .seconds(10), owner: "alice", at: at(10.5))
        _ = try table.grantLease(leaseID(8), ttl: .seconds(10), owner: "alice", at: at(10.5))
        #expect(table.lease(leaseID(8), at: at(10.5))?.owner == "alice")
        #expect(table.invariantViolations() == [])
    }

    @Test("an owner at its waiter limit is refused a queued acquire, but may still try or be granted")
    func waiterLimit() throws {
        var table = limitedTable(leases: 10)
        for n in 1...4 {
            _ = try table.grantLease(leaseID(n), ttl: .seconds(60), owner: n == 1 ? "holder" : "mallory", at: at(0))
        }
        let held = try table.mustGrant("a", 1)
        #expect(try table.mustQueue("a", 2) == 1)
        #expect(try table.mustQueue("a", 3) == 2)
        do {
            _ = try table.acquire(lock("a"), lease: leaseID(4), mode: .exclusive, wait: .seconds(5), at: at(0))
            Issue.record("a third waiting acquire was accepted")
        } catch {
            #expect(error.code == .tooManyWaiters)
        }
        _ = try table.mustGrant("free", 4)
        _ = try table.release(lock("a"), lease: leaseID(1), token: held.token, at: at(1))
        #expect(try table.mustQueue("a", 4) == 2, "a granted waiter makes room")
        #expect(table.invariantViolations() == [])
    }
}
