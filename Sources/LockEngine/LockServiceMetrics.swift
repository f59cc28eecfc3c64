import LockCore
import Metrics

/// The lock service's metrics (exported at `/_palisade/metrics` by the server).
struct LockServiceMetrics: Sendable {
    let leases: Gauge
    let holdings: Gauge
    let waiters: Gauge
    let watches: Gauge
    let leasesGranted: Counter
    let leaseExpiries: Counter
    let grants: Counter
    let waits: Counter
    let waitTimeouts: Counter
    let releases: [ReleaseReason: Counter]
    let persistenceFailures: Counter
    let acquireWait: Metrics.Timer
    /// Running totals behind the gauges, so that no call has to scan the table.
    private var leaseCount = 0
    private var holdingCount = 0

    init(factory: any MetricsFactory) {
        leases = Gauge(label: "palisade_leases", dimensions: [], factory: factory)
        holdings = Gauge(label: "palisade_lock_holdings", dimensions: [], factory: factory)
        waiters = Gauge(label: "palisade_lock_waiters", dimensions: [], factory: factory)
        watches = Gauge(label: "palisade_lock_watches", dimensions: [], factory: factory)
        leasesGranted = Counter(label: "palisade_leases_granted_total", dimensions: [], factory: factory)
        leaseExpiries = Counter(label: "palisade_lease_expiries_total", dimensions: [], factory: factory)
        grants = Counter(label: "palisade_lock_grants_total", dimensions: [], factory: factory)
        waits = Counter(label: "palisade_lock_waits_total", dimensions: [], factory: factory)
        waitTimeouts = Counter(label: "palisade_lock_wait_timeouts_total", dimensions: [], factory: factory)
        let reasons: [(ReleaseReason, String)] = [
            (.released, "released"), (.leaseRevoked, "lease_revoked"), (.leaseExpired, "lease_expired"),
            (.forceReleased, "force_released"),
        ]
        releases = Dictionary(
            uniqueKeysWithValues: reasons.map {
                ($0.0, Counter(label: "palisade_lock_releases_total", dimensions: [("reason", $0.1)], factory: factory))
            }
        )
        persistenceFailures = Counter(
            label: "palisade_lock_persistence_failures_total",
            dimensions: [],
            factory: factory
        )
        acquireWait = Metrics.Timer(label: "palisade_lock_acquire_wait_seconds", dimensions: [], factory: factory)
    }

    mutating func restored(leases restoredLeases: Int, holdings restoredHoldings: Int) {
        leaseCount = restoredLeases
        holdingCount = restoredHoldings
        leases.record(restoredLeases)
        holdings.record(restoredHoldings)
    }

    mutating func record<Instant>(_ effect: LockTable<Instant>.Effect) {
        switch effect {
        case .leaseGranted:
            leasesGranted.increment()
            leaseCount += 1
            leases.record(leaseCount)
        case .leaseEnded(_, let reason):
            if reason == .expired { leaseExpiries.increment() }
            leaseCount -= 1
            leases.record(leaseCount)
        case .holderAdded:
            grants.increment()
            holdingCount += 1
            holdings.record(holdingCount)
        case .holderRemoved(_, let reason):
            releases[reason]?.increment()
            holdingCount -= 1
            holdings.record(holdingCount)
        default:
            break
        }
    }
}
