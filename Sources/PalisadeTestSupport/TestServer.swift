import AsyncHTTPClient
import Foundation
import Hummingbird
public import LockEngine
import Logging
import Metrics
public import PalisadeAuth
public import PalisadeClient
public import PalisadeHTTP
import Prometheus
import ServiceLifecycle
public import StorageEngine

/// A running in-process server for a test.
public struct TestServer<C: Clock>: Sendable where C.Duration == Duration {
    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    public let port: Int
    public let credentials: SigV4Credentials
    /// The data folder (state survives a restart on the same folder).
    public let dataDirectory: String
    /// The Prometheus registry behind `/_palisade/metrics`.
    public let registry: PrometheusCollectorRegistry
    /// The server's lock service.
    public let locks: LockService<C>
    /// The server's object store.
    public let store: ObjectStore

    /// A lock client for this server.
    public var client: LockClient { client(transport: .http) }

    /// A lock client for this server over `transport` (a new session each time for `.session`).
    public func client(transport: LockClient.Transport) -> LockClient {
        LockClient(configuration: .init(endpoint: endpoint, credentials: credentials, transport: transport))
    }

    /// How many requests the server answered on `route` with `status`, from its request metrics.
    public func requestCount(route: String, method: String = "GET", status: Int) -> Int {
        let text = registry.emitToString()
        let series =
            "palisade_http_request_duration_seconds_count{route=\"\(route)\",method=\"\(method)\",status=\"\(status)\"} "
        return text.split(separator: "\n").lazy.filter { $0.hasPrefix(series) }.compactMap {
            Int($0.dropFirst(series.count))
        }
        .first ?? 0
    }
}

/// The domain under which test servers accept virtual-host style requests (`bucket.s3.test`).
public let testVirtualHostDomain = "s3.test"

/// The credentials every test server accepts.
public let testCredentials = SigV4Credentials(accessKeyID: "PALISADETESTKEY", secretAccessKey: "palisade-test-secret")

/// Makes a fresh, empty folder under the system's temporary folder.
public func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "palisade-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs a server on 127.0.0.1 with an ephemeral port for the duration of `body`, then shuts it
/// down gracefully (the lock service first, then the HTTP server).
/// - Parameters:
///   - clock: the lock service's clock; a ``ManualClock`` makes expiry deterministic.
///   - dataDirectory: reuse a folder to test restarts; by default a fresh one.
///   - durability: of object writes and lock changes; relaxed (no fsync) by default, for speed.
///   - beforeCommit: the store's ``ObjectStore/CommitHook``, to act between a write's arrival and its commit.
///   - connectionLimits: the server's timeouts and connection cap.
///   - users: keys beside the administrator's (``TestServer/credentials``), with their policies.
public func withTestServer<C: Clock, T: Sendable>(
    clock: C,
    configuration: LockService<C>.Configuration = .init(),
    dataDirectory: String? = nil,
    durability: ObjectStore.Durability = .relaxed,
    beforeCommit: ObjectStore.CommitHook? = nil,
    connectionLimits: ConnectionLimits = .init(),
    users: [UserDirectory.User] = [],
    _ body: @Sendable (TestServer<C>) async throws -> T
) async throws -> T where C.Duration == Duration {
    let directory = try dataDirectory ?? makeTemporaryDirectory()
    let registry = PrometheusCollectorRegistry()
    let factory = PrometheusMetricsFactory(registry: registry)
    var logger = Logger(label: "palisade.test")
    logger.logLevel = .warning
    let locks = try LockService(
        clock: clock,
        configuration: configuration,
        persistence: try .embedded(in: directory, durable: durability == .durable),
        logger: logger,
        metricsFactory: factory
    )
    let store = try ObjectStore(
        directory: directory,
        durability: durability,
        authority: locks.liveGrants,
        beforeCommit: beforeCommit
    )
    return try await withRunningApplication(
        locks: locks,
        services: [locks],
        store: store,
        registry: registry,
        metricsFactory: factory,
        users: users,
        connectionLimits: connectionLimits,
        logger: logger
    ) { port in
        try await body(
            TestServer(
                endpoint: "http://127.0.0.1:\(port)",
                port: port,
                credentials: testCredentials,
                dataDirectory: directory,
                registry: registry,
                locks: locks,
                store: store
            )
        )
    }
}

/// Serves `locks` and `store` on an ephemeral loopback port, with `services` (the lock service's
/// timer) running beside it, for the duration of `body`; then shuts all down gracefully.
func withRunningApplication<T: Sendable>(
    locks: any LockBackend,
    services: [any Service],
    store: ObjectStore,
    registry: PrometheusCollectorRegistry,
    metricsFactory: any MetricsFactory,
    users: [UserDirectory.User] = [],
    connectionLimits: ConnectionLimits = .init(),
    logger: Logger,
    _ body: @Sendable (_ port: Int) async throws -> T
) async throws -> T {
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = try buildApplication(
        configuration: ServerConfiguration(
            host: "127.0.0.1",
            port: 0,
            credentials: [testCredentials],
            domain: testVirtualHostDomain,
            users: UserDirectory([.init(credentials: testCredentials, policy: .administrator)] + users),
            limits: connectionLimits
        ),
        locks: locks,
        store: store,
        registry: registry,
        metricsFactory: metricsFactory,
        logger: logger,
        onServerRunning: { port in portContinuation.yield(port) }
    )
    let group = ServiceGroup(
        configuration: .init(services: [app] + services, gracefulShutdownSignals: [], logger: logger)
    )
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        do {
            let value = try await body(port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return value
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// Runs a server on the real clock.
public func withTestServer<T: Sendable>(
    dataDirectory: String? = nil,
    _ body: @Sendable (TestServer<ContinuousClock>) async throws -> T
) async throws -> T {
    try await withTestServer(clock: ContinuousClock(), dataDirectory: dataDirectory, body)
}

extension TestServer {
    /// A signing S3 client for this server.
    public var s3: S3TestClient { S3TestClient(endpoint: endpoint, credentials: credentials) }
}
