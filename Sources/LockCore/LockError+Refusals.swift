public import PalisadeProtocol

/// The refusals both lock backends give (the embedded table and cluster mode's), worded once.
extension LockError {
    public static func invalidTTL(_ range: ClosedRange<Duration>) -> LockError {
        LockError(.invalidTTL, "a lease TTL must be between \(range.lowerBound) and \(range.upperBound)")
    }

    public static func invalidWait(_ maximum: Duration) -> LockError {
        LockError(.invalidWait, "a wait must be between 0 and \(maximum)")
    }

    public static func tooManyLeases(_ limit: Int) -> LockError {
        LockError(.tooManyLeases, "this access key has \(limit) live leases, its limit: revoke some first")
    }

    public static func tooManyWaiters(_ limit: Int) -> LockError {
        LockError(.tooManyWaiters, "this access key has \(limit) acquires waiting, its limit")
    }

    public static func leaseNotFound(_ id: LeaseID) -> LockError {
        LockError(.leaseNotFound, "lease \(id) does not exist: it expired, was revoked or was never granted")
    }

    public static func modeConflict(_ name: LockName, held: LockMode) -> LockError {
        LockError(.modeConflict, "the lease already holds or waits for lock '\(name)' in \(held) mode")
    }

    public static func alreadyQueued(_ name: LockName, lease: LeaseID) -> LockError {
        LockError(.lockHeld, "lease \(lease) is already queued for lock '\(name)'")
    }

    public static func superseded(_ name: LockName) -> LockError {
        LockError(.superseded, "a newer acquire of lock '\(name)' by the same lease took over this wait")
    }

    public static func waitGivenUp(_ name: LockName) -> LockError {
        LockError(.cancelled, "the lease gave up its wait for lock '\(name)'")
    }

    public static func leaseLostWhileWaiting(_ lease: LeaseID) -> LockError {
        LockError(.leaseLost, "lease \(lease) expired while waiting")
    }

    public static func notHolder(_ name: LockName, lease: LeaseID, token: FencingToken?) -> LockError {
        LockError(.notHolder, "lease \(lease) does not hold lock '\(name)'\(token.map { " with token \($0)" } ?? "")")
    }

    public static func wrongToken(
        _ name: LockName,
        lease: LeaseID,
        held: FencingToken,
        given: FencingToken
    ) -> LockError {
        LockError(.notHolder, "lease \(lease) holds lock '\(name)' with token \(held), not \(given)")
    }
}
