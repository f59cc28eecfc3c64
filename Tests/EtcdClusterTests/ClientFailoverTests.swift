import Foundation
import NIOCore
import PalisadeClient
import PalisadeProtocol
import PalisadeTestSupport
import Testing

@Suite("Cluster mode: clients fail over to another gateway")
struct ClientFailoverTests {
    enum GatewayFault: String, CaseIterable, Sendable {
        /// The gateway dies: its connections are reset, new ones refused.
        case killed
        /// The gateway stops answering: connections open and hang.
        case stalled
    }

    static let cases = LockClient.Transport.allCases.flatMap { transport in
        GatewayFault.allCases.map { (transport, $0) }
    }

    @Test(
        "a lock held through a gateway that dies or stalls stays held: keep-alives and fenced writes move to the next gateway",
        arguments: cases
    )
    func leaseOutlivesItsGateway(transport: LockClient.Transport, fault: GatewayFault) async throws {
        try await withTestGateways(count: 2) { gateways in
            let port = try #require(gateways[0].endpoint.split(separator: ":").last.flatMap { Int($0) })
            let relay = try await TCPRelay.start(to: port)
            let endpoints = GatewayEndpoints([relay.endpoint, gateways[1].endpoint])
            let locks = LockClient(
                configuration: .init(endpoints: endpoints, credentials: gateways[0].credentials, transport: transport)
            )
            let store = ObjectClient(endpoints: endpoints, credentials: gateways[0].credentials)
            try await store.createBucket("failover")
            let ttl = Duration.seconds(12)
            let token = try await locks.withLock("failover/doc", ttl: ttl) { lock in
                _ = try await store.put(bucket: "failover", key: "doc", body: ByteBuffer(string: "1"), fencedBy: lock)
                switch fault {
                case .killed: await relay.cut()
                case .stalled: relay.stall()
                }
                // Longer than the TTL: only keep-alives that reached the other gateway keep the lease.
                try await Task.sleep(for: ttl + .seconds(1))
                #expect(lock.isAlive)
                #expect(try await gateways[1].client.validate("failover/doc", token: lock.token).valid)
                _ = try await store.put(bucket: "failover", key: "doc", body: ByteBuffer(string: "2"), fencedBy: lock)
                return lock.token
            }
            #expect(endpoints.current == gateways[1].endpoint)
            #expect(String(buffer: try await store.get(bucket: "failover", key: "doc")) == "2")
            #expect(try await gateways[1].client.validate("failover/doc", token: token).valid == false)
            await relay.close()
            await locks.close()
        }
    }
}
