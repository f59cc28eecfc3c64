import Foundation
import NIOCore
import NIOPosix
import PalisadeClient
import PalisadeTestSupport
import Testing

@Suite("GatewayEndpoints: which gateway a client talks to")
struct GatewayEndpointsTests {
    @Test("PALISADE_ENDPOINT's list is split at commas, blanks and trailing slashes dropped")
    func parsing() {
        #expect(GatewayEndpoints(parsing: "http://a:9000/, http://b:9000 ,").all == ["http://a:9000", "http://b:9000"])
        #expect(GatewayEndpoints(parsing: "http://a:9000").all == ["http://a:9000"])
        let configuration = LockClient.Configuration.fromEnvironment(["PALISADE_ENDPOINT": "http://a:1,http://b:2"])
        #expect(configuration.endpoints.all == ["http://a:1", "http://b:2"])
    }

    @Test(
        "a failure moves to the next gateway once, round the list; a stale report of a gateway already left changes nothing"
    )
    func rotation() {
        let endpoints = GatewayEndpoints(["a", "b", "c"])
        #expect(endpoints.current == "a")
        endpoints.failed("a")
        endpoints.failed("a")
        #expect(endpoints.current == "b")
        endpoints.failed("b")
        endpoints.failed("c")
        #expect(endpoints.current == "a")
    }

    @Test("startingAt gives a pool's clients different first gateways, each with a current of its own")
    func startingAt() {
        let endpoints = GatewayEndpoints(["a", "b", "c"])
        #expect(endpoints.startingAt(1).all == ["b", "c", "a"])
        #expect(endpoints.startingAt(5).all == ["c", "a", "b"])
        let client = endpoints.startingAt(0)
        client.failed("a")
        #expect(client.current == "b" && endpoints.current == "a")
    }

    /// `http://127.0.0.1:PORT` of a port nothing listens on.
    static func deadEndpoint() async throws -> String {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return "http://127.0.0.1:\(port)"
    }

    @Test(
        "lock and object calls whose first gateway refuses connections are served by the next",
        arguments: LockClient.Transport.allCases
    )
    func deadFirstGateway(transport: LockClient.Transport) async throws {
        try await withTestServer { server in
            let endpoints = GatewayEndpoints([try await Self.deadEndpoint(), server.endpoint])
            let locks = LockClient(
                configuration: .init(endpoints: endpoints, credentials: server.credentials, transport: transport)
            )
            let lease = try await locks.grantLease(ttl: .seconds(5))
            #expect(endpoints.current == server.endpoint)
            _ = try await locks.revokeLease(lease.leaseID)
            await locks.close()

            let objects = GatewayEndpoints([try await Self.deadEndpoint(), server.endpoint])
            let store = ObjectClient(endpoints: objects, credentials: server.credentials)
            try await store.createBucket("failover")
            _ = try await store.put(bucket: "failover", key: "k", body: ByteBuffer(string: "v"))
            #expect(String(buffer: try await store.get(bucket: "failover", key: "k")) == "v")
            #expect(objects.current == server.endpoint)
        }
    }
}
