import Metrics
import NIOCore
import Synchronization

/// Counts the open connections and refuses those beyond ``ConnectionLimits/maximumConnections``.
final class ConnectionGate: Sendable {
    private let open = Atomic<Int>(0)
    let maximum: Int
    private let openGauge: Gauge
    private let refused: Counter

    init(maximum: Int, metricsFactory: any MetricsFactory) {
        self.maximum = maximum
        openGauge = Gauge(label: "palisade_open_connections", factory: metricsFactory)
        refused = Counter(label: "palisade_connections_refused_total", factory: metricsFactory)
    }

    /// Admits `channel` and counts it until it closes, or returns false (and counts a refusal)
    /// when the server already has its maximum.
    func admit(_ channel: any Channel) -> Bool {
        let count = open.add(1, ordering: .relaxed).newValue
        guard count <= maximum else {
            open.subtract(1, ordering: .relaxed)
            refused.increment()
            return false
        }
        openGauge.record(count)
        channel.closeFuture.whenComplete { [self] _ in
            openGauge.record(open.subtract(1, ordering: .relaxed).newValue)
        }
        return true
    }
}
