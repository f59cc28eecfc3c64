public import PalisadeProtocol

extension LockTable {
    /// What the shell must do after a call, in order.
    public enum Effect: Sendable, Equatable {
        /// Persist the token high-water mark `through`, then call ``LockTable/confirmReservation(through:)``.
        case reserveTokens(through: FencingToken)
        /// Persist a new lease.
        case leaseGranted(LeaseID, ttl: Duration, owner: String)
        /// A lease lives until this instant, unless kept alive again (after a grant or a keep-alive).
        case leaseRenewed(LeaseID, until: Instant)
        /// Forget a lease (its holdings were reported as `holderRemoved` before).
        case leaseEnded(LeaseID, LeaseEndReason)
        /// Persist a new holding.
        case holderAdded(Grant)
        /// Forget a holding.
        case holderRemoved(Grant, ReleaseReason)
        /// Wake a queued acquire with its grant (only the head of a queue is ever woken).
        case waiterGranted(WaiterKey, Grant)
        /// End a queued acquire with an error.
        case waiterFailed(WaiterKey, LockError)
        /// Answer a watch.
        case watchFired(WatchID, WatchEvent)
        /// The earliest deadline changed: call ``LockTable/advance(to:)`` at this instant (nil: none).
        case armTimer(at: Instant?)
    }
}

/// Result of an acquire.
public enum AcquireOutcome: Sendable, Equatable {
    /// The lock is held now (also the answer to a retried acquire of a lock the lease holds).
    case granted(Grant)
    /// The acquire waits in the queue at this position (1 is next); a `waiterGranted` or
    /// `waiterFailed` effect will end it.
    case queued(position: Int)
}

/// Result of a release.
public enum ReleaseOutcome: Sendable, Equatable {
    /// The grant was released.
    case released(Grant)
    /// The lease released this grant before: a retry.
    case alreadyReleased
    /// The lease was waiting for the lock and no longer is.
    case waitCancelled
}

/// Result of a watch.
public enum WatchOutcome: Sendable, Equatable {
    /// The lease or grant is already gone (or never existed).
    case notHeld
    /// Still held and `wait` was zero.
    case held
    /// Registered: a `watchFired` effect will answer it.
    case watching(WatchID)
}
