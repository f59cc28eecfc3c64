import DequeModule
import HeapModule
import PalisadeProtocol

/// The lock service's rules with no I/O: leases, named locks, FIFO waiters, fencing tokens, expiry.
///
/// Every mutating call takes the current instant and returns what changed as ``Effect``s, in the
/// order the shell must carry them out (persist, wake waiters, fire watches, re-arm the timer).
/// The table keeps one timer: the earliest of all lease, wait, lock-delay and watch deadlines.
/// A lease is alive while `now < deadline`; at its deadline it has expired.
///
/// The entry points are also compiled for the server's clock (`@_specialize`, which makes the
/// generic entry dispatch to that copy): the service reaches the table across modules, where
/// unspecialized code would look up generic type metadata and copy values through witnesses on
/// every call.
public struct LockTable<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The table's tunables.
    public struct Configuration: Sendable, Equatable {
        /// The TTLs a lease may be granted with.
        public var ttlRange: ClosedRange<Duration>
        /// The longest a caller may wait in a queue or watch.
        public var maximumWait: Duration
        /// After an unclean release (lease expiry, force-release), how long the lock stays
        /// ungrantable (Chubby's lock-delay). Zero turns it off.
        public var lockDelay: Duration
        /// The most live leases one owner (access key) may have.
        public var maximumLeasesPerOwner: Int
        /// The most acquires one owner's leases may have waiting at once.
        public var maximumWaitersPerOwner: Int

        /// Creates a configuration; the defaults are the documented server defaults.
        public init(
            ttlRange: ClosedRange<Duration> = .seconds(1) ... .seconds(3600),
            maximumWait: Duration = .seconds(300),
            lockDelay: Duration = .seconds(1),
            maximumLeasesPerOwner: Int = 10_000,
            maximumWaitersPerOwner: Int = 1_000
        ) {
            self.ttlRange = ttlRange
            self.maximumWait = maximumWait
            self.lockDelay = lockDelay
            self.maximumLeasesPerOwner = maximumLeasesPerOwner
            self.maximumWaitersPerOwner = maximumWaitersPerOwner
        }
    }

    struct Lease: Sendable {
        static var recentReleaseMemory: Int { 32 }

        let id: LeaseID
        let ttl: Duration
        /// The access key that created the lease.
        let owner: String
        var deadline: Instant
        var held: Set<LockName> = []
        var waiting: Set<LockName> = []
        var watches: Set<WatchID> = []
        /// Grants this lease released itself, so that a retried release answers "already released".
        var recentReleases: Deque<Grant> = []

        mutating func rememberRelease(_ grant: Grant) {
            if recentReleases.count == Self.recentReleaseMemory { recentReleases.removeFirst() }
            recentReleases.append(grant)
        }
    }

    struct Waiter: Sendable {
        let lease: LeaseID
        let mode: LockMode
        var deadline: Instant
    }

    struct LockRecord: Sendable {
        var holders: [LeaseID: Grant] = [:]
        var queue: Deque<Waiter> = []
        var delayedUntil: Instant?
        var watches: Set<WatchID> = []

        var isIdle: Bool { holders.isEmpty && queue.isEmpty && delayedUntil == nil && watches.isEmpty }

        /// Whether a request in `mode` is compatible with the current holders.
        func admits(_ mode: LockMode) -> Bool {
            guard let heldMode = holders.first?.value.mode else { return true }
            return heldMode == .shared && mode == .shared
        }
    }

    struct Watch: Sendable {
        enum Target: Sendable, Equatable {
            case lease(LeaseID)
            case grant(Grant)
        }

        let target: Target
        let deadline: Instant
    }

    struct TimerEntry: Comparable, Sendable {
        enum Kind: Sendable, Equatable {
            case lease(LeaseID)
            case waiter(WaiterKey)
            case lockDelay(LockName)
            case watch(WatchID)
        }

        let instant: Instant
        let sequence: UInt64
        let kind: Kind

        static func < (lhs: TimerEntry, rhs: TimerEntry) -> Bool {
            (lhs.instant, lhs.sequence) < (rhs.instant, rhs.sequence)
        }

        static func == (lhs: TimerEntry, rhs: TimerEntry) -> Bool { lhs.sequence == rhs.sequence }
    }

    /// The table's tunables.
    public let configuration: Configuration
    /// The fencing token allocator.
    public internal(set) var tokens: TokenAllocator

    var leases: [LeaseID: Lease] = [:]
    /// The live leases of each owner.
    var leasesByOwner: [String: Set<LeaseID>] = [:]
    var locks: [LockName: LockRecord] = [:]
    var watches: [WatchID: Watch] = [:]
    var timers = Heap<TimerEntry>()
    var timerSequence: UInt64 = 0
    var nextWatchID: UInt64 = 1
    var armedDeadline: Instant?

    /// Creates a table, restoring leases and their holdings from before a restart.
    ///
    /// A restored lease gets a full TTL from `now` (as etcd does on recovery), so its holder has
    /// time to reconnect and keep it alive; it never ends sooner than it would have without the restart.
    public init(
        configuration: Configuration = .init(),
        tokens: TokenAllocator,
        restoring restored: [LeaseRecord] = [],
        at now: Instant
    ) {
        self.configuration = configuration
        self.tokens = tokens
        for entry in restored {
            var lease = Lease(id: entry.id, ttl: entry.ttl, owner: entry.owner, deadline: now.advanced(by: entry.ttl))
            for grant in entry.holdings {
                precondition(grant.lease == entry.id && grant.token.rawValue <= tokens.lastIssued)
                lease.held.insert(grant.name)
                locks[grant.name, default: LockRecord()].holders[entry.id] = grant
            }
            leases[entry.id] = lease
            leasesByOwner[entry.owner, default: []].insert(entry.id)
            schedule(.lease(entry.id), at: lease.deadline)
        }
    }

    /// The earliest instant at which ``advance(to:)`` has work to do, or nil when nothing is pending.
    public var nextDeadline: Instant? {
        mutating get {
            pruneStaleTimers()
            return timers.min?.instant
        }
    }

    /// Number of live leases.
    public var leaseCount: Int { leases.count }
    /// Number of locks with at least one holder.
    public var heldLockCount: Int { locks.values.count { !$0.holders.isEmpty } }
}

// MARK: - Timers

extension LockTable {
    mutating func schedule(_ kind: TimerEntry.Kind, at instant: Instant) {
        timerSequence += 1
        timers.insert(TimerEntry(instant: instant, sequence: timerSequence, kind: kind))
    }

    /// Whether a timer entry still stands for a pending deadline (entries are dropped lazily).
    func isCurrent(_ entry: TimerEntry) -> Bool {
        switch entry.kind {
        case .lease(let id):
            return leases[id]?.deadline == entry.instant
        case .waiter(let key):
            return locks[key.name]?.queue.contains { $0.lease == key.lease && $0.deadline == entry.instant } ?? false
        case .lockDelay(let name):
            return locks[name]?.delayedUntil == entry.instant
        case .watch(let id):
            return watches[id]?.deadline == entry.instant
        }
    }

    mutating func pruneStaleTimers() {
        while let top = timers.min, !isCurrent(top) { timers.removeMin() }
    }

    /// Appends `.armTimer` when the earliest deadline changed since it was last reported.
    mutating func rearm(_ effects: inout [Effect]) {
        let deadline = nextDeadline
        if deadline != armedDeadline {
            armedDeadline = deadline
            effects.append(.armTimer(at: deadline))
        }
    }

    /// Carries out every deadline that is due at `now`: lease expiries, wait timeouts, the end of
    /// lock-delays and watch timeouts. The shell calls this when its timer fires and before every
    /// other call, so that no operation sees a lease that has already expired.
    @_specialize(where Instant == ContinuousClock.Instant)
    public mutating func advance(to now: Instant) -> [Effect] {
        var effects: [Effect] = []
        while let top = timers.min, top.instant <= now {
            timers.removeMin()
            guard isCurrent(top) else { continue }
            switch top.kind {
            case .lease(let id):
                endLease(id, reason: .expired, at: now, &effects)
            case .waiter(let key):
                removeWaiter(
                    key,
                    failure: LockError(.waitTimeout, "the wait for lock '\(key.name)' ran out"),
                    at: now,
                    &effects
                )
            case .lockDelay(let name):
                promoteWaiters(of: name, at: now, &effects)
            case .watch(let id):
                if let watch = watches.removeValue(forKey: id) {
                    detach(watch: id, target: watch.target)
                    effects.append(.watchFired(id, .timedOut))
                }
            }
        }
        rearm(&effects)
        return effects
    }
}
