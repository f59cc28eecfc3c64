import PalisadeClient
import Synchronization

/// Hands each new benchmark client the gateways starting from the next one, so that clients
/// spread over every gateway of `--endpoint a,b,c`.
final class RoundRobin: Sendable {
    private let endpoints: GatewayEndpoints
    private let count = Mutex(0)

    init(_ endpoints: GatewayEndpoints) {
        self.endpoints = endpoints
    }

    /// The gateways for the next client.
    func next() -> GatewayEndpoints {
        endpoints.startingAt(
            count.withLock { count in
                defer { count += 1 }
                return count
            }
        )
    }
}
