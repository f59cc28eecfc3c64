import LockCore
import PalisadeProtocol
import PalisadeTestSupport
import Testing

@Suite("LockTable: leases, FIFO locks, tokens, expiry")
struct LockTableTests {
    @Test("waiters are served first come, first served, and only the head is woken")
    func fifoOrder() throws {
        var table = makeTable()
        try table.grantLeases(1...4)
        let first = try table.mustGrant("orders", 1)
        #expect(try table.mustQueue("orders", 2) == 1)
        #expect(try table.mustQueue("orders", 3) == 2)
        #expect(try table.mustQueue("orders", 4) == 3)

        let afterFirst = try table.release(lock("orders"), lease: leaseID(1), token: first.token, at: at(1)).effects
        #expect(woken(afterFirst) == [leaseID(2)])
        let second = try #require(granted(afterFirst).first)
        let afterSecond = try table.release(lock("orders"), lease: leaseID(2), token: second.token, at: at(2)).effects
        #expect(woken(afterSecond) == [leaseID(3)])
        #expect(table.status(of: lock("orders"), at: at(2)).waiters.map(\.lease) == [leaseID(4)])
        #expect(table.invariantViolations() == [])
    }

    @Test("fencing tokens strictly increase over all grants of all locks")
    func tokensIncrease() throws {
        var table = makeTable(reservation: 4)
        try table.grantLeases(1...3)
        var tokens: [FencingToken] = []
        for round in 0..<10 {
            for id in 1...3 {
                let grant = try table.mustGrant("lock-\(id)", id, at: at(Double(round)))
                tokens.append(grant.token)
                let effects = try table.release(
                    grant.name,
                    lease: grant.lease,
                    token: grant.token,
                    at: at(Double(round))
                ).effects
                _ = effects
            }
            _ = try (1...3).map { try table.keepAlive(leaseID($0), at: at(Double(round))) }
            if let pending = table.tokens.pendingReservation {
                table.confirmReservation(through: FencingToken(pending))
            }
        }
        #expect(tokens == tokens.sorted() && Set(tokens).count == tokens.count)
        #expect(tokens.first == FencingToken(1))
    }

    @Test("a lease expires at exactly its TTL, and a keep-alive renews it")
    func expiryAtTTL() throws {
        var table = makeTable()
        _ = try table.grantLease(leaseID(1), ttl: .seconds(10), at: at(0))
        _ = try table.mustGrant("a", 1)
        let almost = at(0).advanced(by: .seconds(10) - .nanoseconds(1))
        #expect(table.advance(to: almost).isEmpty)
        #expect(table.lease(leaseID(1), at: almost) != nil)

        let effects = table.advance(to: at(10))
        #expect(effects.contains(.leaseEnded(leaseID(1), .expired)))
        #expect(effects.contains { if case .holderRemoved(_, .leaseExpired) = $0 { true } else { false } })
        #expect(throws: LockError.self) { try table.keepAlive(leaseID(1), at: at(10)) }

        _ = table.advance(to: at(20))  // the lock-delay of "a" ends
        _ = try table.grantLease(leaseID(2), ttl: .seconds(10), at: at(20))
        let renewed = try table.keepAlive(leaseID(2), at: at(25))
        #expect(renewed.deadline == at(35))
        #expect(table.advance(to: at(34.999)).isEmpty)
        #expect(table.advance(to: at(35)).contains(.leaseEnded(leaseID(2), .expired)))
    }

    @Test("an acquire on a lease whose TTL has passed is refused, even before the timer fires")
    func noGrantOnExpiredLease() throws {
        var table = makeTable()
        _ = try table.grantLease(leaseID(1), ttl: .seconds(1), at: at(0))
        let error = #expect(throws: LockError.self) {
            try table.acquire(lock("a"), lease: leaseID(1), mode: .exclusive, wait: .zero, at: at(1))
        }
        #expect(error?.code == .leaseNotFound)
    }

    @Test("an unclean expiry is followed by the lock-delay; a revoke is not")
    func lockDelay() throws {
        var table = makeTable(lockDelay: .seconds(2))
        try table.grantLeases(1...1, ttl: .seconds(5))
        try table.grantLeases(2...3, ttl: .seconds(60))
        _ = try table.mustGrant("a", 1)
        try table.mustQueue("a", 2)

        let expiry = table.advance(to: at(5))
        #expect(woken(expiry) == [])
        #expect(table.status(of: lock("a"), at: at(5)).delayedUntil == at(7))
        let busy = #expect(throws: LockError.self) {
            try table.acquire(lock("a"), lease: leaseID(3), mode: .exclusive, wait: .zero, at: at(6))
        }
        #expect(busy?.code == .lockHeld)
        #expect(table.advance(to: at(6.999)).isEmpty)
        #expect(woken(table.advance(to: at(7))) == [leaseID(2)])

        _ = try table.revokeLease(leaseID(2), at: at(8))
        #expect(table.status(of: lock("a"), at: at(8)).delayedUntil == nil)
        _ = try table.mustGrant("a", 3, at: at(8))
    }

    @Test("force-release frees the lock and starts the lock-delay")
    func forceRelease() throws {
        var table = makeTable(lockDelay: .seconds(1))
        try table.grantLeases(1...2)
        let grant = try table.mustGrant("a", 1)
        try table.mustQueue("a", 2)
        let (released, effects) = table.forceRelease(lock("a"), at: at(1))
        #expect(released == [grant])
        #expect(effects.first == .holderRemoved(grant, .forceReleased))
        #expect(woken(effects) == [])
        #expect(woken(table.advance(to: at(2))) == [leaseID(2)])
        #expect(table.lease(leaseID(1), at: at(2))?.grants == [])
    }

    @Test("shared holders coexist, a queued writer blocks later readers, and a run of readers is granted together")
    func sharedAndExclusive() throws {
        var table = makeTable()
        try table.grantLeases(1...5)
        let r1 = try table.mustGrant("doc", 1, mode: .shared)
        let r2 = try table.mustGrant("doc", 2, mode: .shared)
        try table.mustQueue("doc", 3, mode: .exclusive)
        try table.mustQueue("doc", 4, mode: .shared)
        try table.mustQueue("doc", 5, mode: .shared)

        #expect(woken(try table.release(lock("doc"), lease: leaseID(1), token: r1.token, at: at(1)).effects) == [])
        let writerTurn = try table.release(lock("doc"), lease: leaseID(2), token: r2.token, at: at(1)).effects
        #expect(woken(writerTurn) == [leaseID(3)])
        let writer = try #require(granted(writerTurn).first)
        let readersTurn = try table.release(lock("doc"), lease: leaseID(3), token: writer.token, at: at(2)).effects
        #expect(woken(readersTurn) == [leaseID(4), leaseID(5)])
        #expect(table.status(of: lock("doc"), at: at(2)).holders.map(\.grant.mode) == [.shared, .shared])
        #expect(table.invariantViolations() == [])
    }

    @Test("release is only for the holder: wrong lease or wrong token is refused, a retried release succeeds")
    func releaseRules() throws {
        var table = makeTable()
        try table.grantLeases(1...2)
        let grant = try table.mustGrant("a", 1)
        let stranger = #expect(throws: LockError.self) {
            try table.release(lock("a"), lease: leaseID(2), token: grant.token, at: at(1))
        }
        #expect(stranger?.code == .notHolder)
        let wrongToken = #expect(throws: LockError.self) {
            try table.release(lock("a"), lease: leaseID(1), token: FencingToken(grant.token.rawValue + 1), at: at(1))
        }
        #expect(wrongToken?.code == .notHolder)

        #expect(
            try table.release(lock("a"), lease: leaseID(1), token: grant.token, at: at(1)).outcome == .released(grant)
        )
        #expect(
            try table.release(lock("a"), lease: leaseID(1), token: grant.token, at: at(2)).outcome == .alreadyReleased
        )
        let unknown = #expect(throws: LockError.self) {
            try table.release(lock("a"), lease: leaseID(1), token: FencingToken(99), at: at(2))
        }
        #expect(unknown?.code == .notHolder)
    }

    @Test("a retried acquire returns the same grant; the other mode is a conflict")
    func retriedAcquire() throws {
        var table = makeTable()
        try table.grantLeases(1...1)
        let grant = try table.mustGrant("a", 1)
        #expect(try table.mustGrant("a", 1, at: at(1)) == grant)
        let conflict = #expect(throws: LockError.self) {
            try table.acquire(lock("a"), lease: leaseID(1), mode: .shared, wait: .zero, at: at(1))
        }
        #expect(conflict?.code == .modeConflict)
    }

    @Test("a waiter whose lease expires is dropped at once and is never granted")
    func waiterLeaseExpires() throws {
        var table = makeTable(lockDelay: .zero)
        _ = try table.grantLease(leaseID(1), ttl: .seconds(60), at: at(0))
        _ = try table.grantLease(leaseID(2), ttl: .seconds(5), at: at(0))
        let grant = try table.mustGrant("a", 1)
        try table.mustQueue("a", 2, wait: .seconds(60))
        let expiry = table.advance(to: at(5))
        #expect(failed(expiry).map(\.0) == [leaseID(2)])
        #expect(failed(expiry).map(\.1) == [.leaseLost])
        #expect(table.status(of: lock("a"), at: at(5)).waiters.isEmpty)
        let release = try table.release(lock("a"), lease: leaseID(1), token: grant.token, at: at(6)).effects
        #expect(woken(release) == [])
    }

    @Test("a wait ends with waitTimeout at exactly its deadline, and the next waiter moves up")
    func waitTimeout() throws {
        var table = makeTable()
        try table.grantLeases(1...3, ttl: .seconds(60))
        _ = try table.mustGrant("a", 1)
        try table.mustQueue("a", 2, wait: .seconds(3))
        try table.mustQueue("a", 3, wait: .seconds(30))
        #expect(table.advance(to: at(2.999)).isEmpty)
        #expect(failed(table.advance(to: at(3))).map(\.1) == [.waitTimeout])
        #expect(table.status(of: lock("a"), at: at(3)).waiters.map(\.position) == [1])
    }

    @Test("a repeated blocking acquire supersedes the earlier request and keeps its place")
    func supersede() throws {
        var table = makeTable()
        try table.grantLeases(1...3)
        _ = try table.mustGrant("a", 1)
        try table.mustQueue("a", 2)
        try table.mustQueue("a", 3)
        let (outcome, effects) = try table.acquire(
            lock("a"),
            lease: leaseID(2),
            mode: .exclusive,
            wait: .seconds(30),
            at: at(1)
        )
        #expect(outcome == .queued(position: 1))
        #expect(failed(effects).map(\.1) == [.superseded])
    }

    @Test("a release without a token gives up a wait")
    func cancelWaitByRelease() throws {
        var table = makeTable()
        try table.grantLeases(1...2)
        _ = try table.mustGrant("a", 1)
        try table.mustQueue("a", 2)
        let (outcome, effects) = try table.release(lock("a"), lease: leaseID(2), token: nil, at: at(1))
        #expect(outcome == .waitCancelled)
        #expect(failed(effects).map(\.1) == [.cancelled])
        #expect(table.status(of: lock("a"), at: at(1)).waiters.isEmpty)
    }

    @Test("revoking a lease releases every lock it holds and ends its waits")
    func revoke() throws {
        var table = makeTable()
        try table.grantLeases(1...2)
        let a = try table.mustGrant("a", 1)
        let b = try table.mustGrant("b", 1)
        _ = try table.mustGrant("c", 2)
        try table.mustQueue("c", 1)
        let (released, effects) = try table.revokeLease(leaseID(1), at: at(1))
        #expect(released == [a, b])
        #expect(failed(effects).map(\.1) == [.leaseLost])
        #expect(effects.last == .leaseEnded(leaseID(1), .revoked))
        #expect(table.heldLockCount == 1)
        #expect(table.invariantViolations() == [])
    }

    @Test("watches: a lease watch sees the expiry, a grant watch sees the release, an idle watch times out")
    func watches() throws {
        var table = makeTable()
        _ = try table.grantLease(leaseID(1), ttl: .seconds(10), at: at(0))
        _ = try table.grantLease(leaseID(2), ttl: .seconds(60), at: at(0))
        let grant = try table.mustGrant("a", 2)
        guard case .watching(let leaseWatch) = try table.watchLease(leaseID(1), wait: .seconds(60), at: at(0)).outcome,
            case .watching(let grantWatch) = try table.watchGrant(
                lock("a"),
                token: grant.token,
                wait: .seconds(60),
                at: at(0)
            ).outcome,
            case .watching(let idleWatch) = try table.watchLease(leaseID(2), wait: .seconds(3), at: at(0)).outcome
        else {
            Issue.record("expected three watches")
            return
        }

        #expect(table.advance(to: at(3)).contains(.watchFired(idleWatch, .timedOut)))
        #expect(table.advance(to: at(10)).contains(.watchFired(leaseWatch, .lost(.leaseExpired))))
        let release = try table.release(lock("a"), lease: leaseID(2), token: grant.token, at: at(11)).effects
        #expect(release.contains(.watchFired(grantWatch, .lost(.released))))
        #expect(try table.watchGrant(lock("a"), token: grant.token, wait: .seconds(1), at: at(11)).outcome == .notHeld)
        #expect(table.invariantViolations() == [])
    }

    @Test("tokens come only from the persisted reservation; the next range is asked for ahead of need")
    func tokenReservation() throws {
        var table = makeTable(reservation: 4)
        try table.grantLeases(1...1, ttl: .seconds(60))
        var reservations: [FencingToken] = []
        for index in 1...4 {
            let (outcome, effects) = try table.acquire(
                lock("k\(index)"),
                lease: leaseID(1),
                mode: .exclusive,
                wait: .zero,
                at: at(0)
            )
            #expect(outcome != .queued(position: 1))
            reservations += effects.compactMap { if case .reserveTokens(let through) = $0 { through } else { nil } }
        }
        #expect(reservations == [FencingToken(8)])
        let exhausted = #expect(throws: LockError.self) {
            try table.acquire(lock("k5"), lease: leaseID(1), mode: .exclusive, wait: .zero, at: at(0))
        }
        #expect(exhausted?.code == .tokensUnavailable)
        table.confirmReservation(through: FencingToken(8))
        #expect(try table.mustGrant("k5", 1).token == FencingToken(5))
    }

    @Test("after a failed reservation ran the tokens out, a reservation is asked for again, and issuing resumes")
    func tokenReservationRecovers() throws {
        var table = makeTable(reservation: 4)
        try table.grantLeases(1...1, ttl: .seconds(60))
        for index in 1...3 { _ = try table.mustGrant("k\(index)", 1) }
        table.reservationFailed()
        _ = try table.mustGrant("k4", 1)
        #expect(
            table.requestReservation() == [],
            "the grant of token 4 asked again for the reservation that failed; it is pending"
        )
        table.reservationFailed()
        let exhausted = #expect(throws: LockError.self) {
            try table.acquire(lock("k5"), lease: leaseID(1), mode: .exclusive, wait: .zero, at: at(0))
        }
        #expect(exhausted?.code == .tokensUnavailable)
        #expect(table.requestReservation() == [.reserveTokens(through: FencingToken(8))])
        #expect(table.requestReservation() == [], "one reservation at a time")
        table.confirmReservation(through: FencingToken(8))
        #expect(try table.mustGrant("k5", 1).token == FencingToken(5))
    }

    @Test("restored leases keep their holdings and a full TTL; new tokens are above the restored ones")
    func restore() throws {
        let held = Grant(name: lock("a"), lease: leaseID(1), token: FencingToken(41), mode: .exclusive)
        var table = Table(
            tokens: TokenAllocator(issuedAtMost: 1000, reservedThrough: 2000, reservationSize: 1000),
            restoring: [LeaseRecord(id: leaseID(1), ttl: .seconds(10), holdings: [held])],
            at: at(100)
        )
        #expect(table.invariantViolations() == [])
        #expect(table.lease(leaseID(1), at: at(100))?.deadline == at(110))
        _ = try table.grantLease(leaseID(2), ttl: .seconds(60), at: at(100))
        try table.mustQueue("a", 2, at: at(100))
        let expiry = table.advance(to: at(110))
        #expect(expiry.contains(.holderRemoved(held, .leaseExpired)))
        let next = try #require(granted(table.advance(to: at(111))).first)
        #expect(next.token == FencingToken(1001))
    }

    @Test("TTL and wait bounds are enforced", arguments: [Duration.milliseconds(999), .seconds(3601)])
    func bounds(ttl: Duration) throws {
        var table = makeTable()
        let badTTL = #expect(throws: LockError.self) { try table.grantLease(leaseID(1), ttl: ttl, at: at(0)) }
        #expect(badTTL?.code == .invalidTTL)
        try table.grantLeases(1...1)
        let badWait = #expect(throws: LockError.self) {
            try table.acquire(lock("a"), lease: leaseID(1), mode: .exclusive, wait: .seconds(301), at: at(0))
        }
        #expect(badWait?.code == .invalidWait)
    }
}
