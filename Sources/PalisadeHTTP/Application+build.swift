import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
public import LockEngine
public import Logging
public import Metrics
public import NIOSSL
public import PalisadeAuth
import PalisadeProtocol
public import Prometheus
import StorageEngine

/// Everything the HTTP server needs that does not come from the lock engine.
public struct ServerConfiguration: Sendable {
    /// Address to listen on; port 0 picks a free port.
    public var host: String
    public var port: Int
    /// Keys that may sign requests and do anything (the administrators).
    public var credentials: [SigV4Credentials]
    /// Keys with their policies; when given, ``credentials`` is not used (the directory holds
    /// the administrators too).
    public var users: UserDirectory?
    /// With a domain, S3 requests may also address a bucket virtual-host style: `bucket.domain`.
    public var domain: String?
    /// Timeouts and the connection cap.
    public var limits: ConnectionLimits
    /// With a configuration, the listener speaks TLS only (HTTPS, and WSS for lock sessions).
    public var tls: TLSConfiguration?
    /// Logs one line per request (label `palisade.access`, level info).
    public var accessLog: Bool

    public init(
        host: String = "127.0.0.1",
        port: Int = 9000,
        credentials: [SigV4Credentials],
        domain: String? = nil,
        users: UserDirectory? = nil,
        limits: ConnectionLimits = .init(),
        tls: TLSConfiguration? = nil,
        accessLog: Bool = false
    ) {
        self.users = users
        self.host = host
        self.port = port
        self.credentials = credentials
        self.domain = domain
        self.limits = limits
        self.tls = tls
        self.accessLog = accessLog
    }
}

/// The version reported by `/_palisade/health` and `palisade --version`.
public let palisadeVersion = "0.1.0"

/// Builds the Palisade HTTP application: the S3 gateway, the lock API, health and metrics on one listener.
///
/// The lock service is not run by the application: run both in one `ServiceGroup`, the application
/// first, so that on shutdown the lock service ends waiting acquires before the server drains.
/// - Parameters:
///   - onServerRunning: called with the bound port once the server listens.
public func buildApplication(
    configuration: ServerConfiguration,
    locks: any LockBackend,
    store: ObjectStore,
    registry: PrometheusCollectorRegistry,
    metricsFactory: any MetricsFactory,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let users = configuration.users ?? UserDirectory(administrators: configuration.credentials)
    let verifier = SigV4Verifier(users: users)
    let router = buildRouter(
        locks: locks,
        store: store,
        verifier: verifier,
        domain: configuration.domain,
        registry: registry,
        metricsFactory: metricsFactory,
        accessLog: configuration.accessLog ? Logger(label: "palisade.access") : nil
    )
    // No authentication middleware here: the connection's SessionUpgradeGate lets only signed
    // session upgrades reach this router.
    let sessions = Router(context: PalisadeRequestContext.self)
    let gate = ConnectionGate(maximum: configuration.limits.maximumConnections, metricsFactory: metricsFactory)
    let authorizer = LockAuthorizer(users: users, locks: locks)
    LockSessionRoutes(
        lock: LockRoutes(locks: locks, authorizer: authorizer),
        fencing: FencingRoutes(store: store, authorizer: authorizer),
        metricsFactory: metricsFactory
    )
    .register(on: sessions)
    let connections = HTTPServerBuilder {
        [sessions = sessions.buildResponder(), limits = configuration.limits] responder in
        GracefulUpgradeChannel(
            inner: HTTP1WebSocketUpgradeChannel(
                responder: responder,
                webSocketResponder: sessions,
                configuration: .init(
                    http1: .init(additionalChannelHandlers: [
                        ExpectContinueHandler(), CloseAfterResponseHandler(), RequestTimeoutHandler(limits: limits),
                    ]),
                    ws: .init(maxFrameSize: LockSessionMessage.maximumBytes)
                )
            ),
            sessionVerifier: verifier,
            limits: limits,
            gate: gate
        )
    }
    return Application(
        router: router,
        server: try configuration.tls.map { try .tls(connections, tlsConfiguration: $0) } ?? connections,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "palisade"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

/// Builds the router: `/_palisade/health` and `/_palisade/metrics` open, `/_palisade/v1/…` signed,
/// and every other path the S3 gateway's.
public func buildRouter(
    locks: any LockBackend,
    store: ObjectStore,
    verifier: SigV4Verifier,
    domain: String? = nil,
    registry: PrometheusCollectorRegistry,
    metricsFactory: any MetricsFactory,
    accessLog: Logger? = nil
) -> Router<PalisadeRequestContext> {
    let router = Router(context: PalisadeRequestContext.self)
    router.add(middleware: RequestMetricsMiddleware(factory: metricsFactory, accessLog: accessLog))
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: S3Gateway(store: store, verifier: verifier, domain: domain, metricsFactory: metricsFactory))
    router.get("_palisade/health") { _, _ in
        let health = HealthResponse(
            status: store.reserve?.isLow == true ? "low_space" : "ok",
            version: palisadeVersion,
            freeBytes: store.reserve?.freeBytes
        )
        let body = try JSONEncoder().encode(health)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
    router.get("_palisade/metrics") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }
    let api = router.group("_palisade/v1").add(middleware: SigV4AuthMiddleware(verifier: verifier))
    let authorizer = LockAuthorizer(users: verifier.users, locks: locks)
    LockRoutes(locks: locks, authorizer: authorizer).register(on: api)
    FencingRoutes(store: store, authorizer: authorizer).register(on: api)
    WriteRoutes(store: store).register(on: api)
    api.get(RouterPath(PalisadePaths.session)) { _, _ -> Response in
        throw LockAPIError(
            .upgradeRequired,
            LockAPIErrorCode.upgradeRequired,
            "a lock session is a WebSocket: send Upgrade: websocket (Protocol/lock-sessions.md)"
        )
    }
    return router
}
