import EtcdCluster
import Foundation
public import LockCore
public import LockEngine
import Logging
public import PalisadeAuth
public import PalisadeClient
import Prometheus
public import StorageEngine

/// One gateway of a cluster-mode test deployment, served in this process.
public struct TestGateway: Sendable {
    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    public let credentials: SigV4Credentials
    /// The gateway's lock service (on etcd).
    public let locks: any LockBackend
    /// The gateway's object store (metadata in etcd, blobs in the shared folder).
    public let store: ObjectStore
    /// The shared blob folder.
    public let dataDirectory: String

    /// A lock client of this gateway.
    public var client: LockClient { client(transport: .http) }

    public func client(transport: LockClient.Transport) -> LockClient {
        LockClient(configuration: .init(endpoint: endpoint, credentials: credentials, transport: transport))
    }
}

/// Runs `count` cluster-mode gateways on ephemeral loopback ports, sharing the test etcd (under a
/// fresh key prefix) and one blob folder, for the duration of `body`.
/// - Parameter configuration: each gateway's lock rules (lock-delay, limits, TTL and wait bounds).
public func withTestGateways<T: Sendable>(
    count: Int = 2,
    configuration: EtcdLockBackend.Configuration = .init(),
    _ body: @Sendable ([TestGateway]) async throws -> T
) async throws -> T {
    let directory = try makeTemporaryDirectory()
    let client = try await EtcdTestCluster.shared.client
    let layout = EtcdKeyLayout(prefix: "test\(directory)/")
    let logger = {
        var logger = Logger(label: "palisade.test")
        logger.logLevel = .warning
        return logger
    }()
    @Sendable func serve(_ index: Int, _ running: [TestGateway]) async throws -> T {
        guard index < count else { return try await body(running) }
        let locks = EtcdLockBackend(client: client, layout: layout, configuration: configuration)
        let store = ObjectStore(
            metadata: EtcdMetadataStore(client: client, layout: layout, checksLiveHolders: true),
            blobs: try FileBlobStore(root: directory + "/blobs"),
            durability: .relaxed
        )
        let registry = PrometheusCollectorRegistry()
        return try await withRunningApplication(
            locks: locks,
            services: [],
            store: store,
            registry: registry,
            metricsFactory: PrometheusMetricsFactory(registry: registry),
            logger: logger
        ) { port in
            let gateway = TestGateway(
                endpoint: "http://127.0.0.1:\(port)",
                credentials: testCredentials,
                locks: locks,
                store: store,
                dataDirectory: directory
            )
            return try await serve(index + 1, running + [gateway])
        }
    }
    return try await serve(0, [])
}
