public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import NIOSSL
public import PalisadeAuth
public import PalisadeProtocol
import WSClient

/// A client of Palisade's lock API (`Protocol/lock-api.md`).
///
/// Every call is signed with AWS Signature V4. Calls are retried with exponential backoff when the
/// connection fails; every lock API call is safe to retry (a retried acquire by the same lease gets
/// the same grant back, a retried release answers "already released"), so a retry never acquires twice.
public struct LockClient: Sendable {
    /// Where the gateways are and how to sign.
    public struct Configuration: Sendable {
        /// The gateways' base URLs, such as `http://127.0.0.1:9000`; calls move to the next one
        /// when one cannot be reached. Configurations and clients made from this one share it.
        public var endpoints: GatewayEndpoints
        public var credentials: SigV4Credentials
        public var region: String
        /// Attempts per call when the connection fails, or, when there are several gateways, one
        /// answers `ServiceUnavailable` (1: no retry). Each retry goes to the next gateway.
        public var maximumAttempts: Int
        /// The first backoff; it doubles on each retry.
        public var initialBackoff: Duration
        /// How long a call may go unanswered, beyond the time it asked to wait, before its gateway
        /// is deemed out of reach and the call is retried on the next one. A lease's keep-alive
        /// gives up sooner: after a quarter of the lease's TTL.
        public var requestTimeout: Duration
        /// How calls reach the server.
        public var transport: Transport
        /// Whom to trust for an `https://` endpoint, for the lock session's `wss://` connection
        /// (nil: the system's roots). HTTP calls use the HTTP client's own TLS set-up: give the
        /// client one made by ``LockClient/makeHTTPClient(connectTimeout:tlsConfiguration:)``.
        public var tlsConfiguration: TLSConfiguration?

        /// `endpoint` is one gateway's base URL, or several separated by commas.
        public init(
            endpoint: String,
            credentials: SigV4Credentials,
            region: String = "us-east-1",
            maximumAttempts: Int = 4,
            initialBackoff: Duration = .milliseconds(50),
            requestTimeout: Duration = .seconds(30),
            transport: Transport = .http,
            tlsConfiguration: TLSConfiguration? = nil
        ) {
            self.init(
                endpoints: GatewayEndpoints(parsing: endpoint),
                credentials: credentials,
                region: region,
                maximumAttempts: maximumAttempts,
                initialBackoff: initialBackoff,
                requestTimeout: requestTimeout,
                transport: transport,
                tlsConfiguration: tlsConfiguration
            )
        }

        public init(
            endpoints: GatewayEndpoints,
            credentials: SigV4Credentials,
            region: String = "us-east-1",
            maximumAttempts: Int = 4,
            initialBackoff: Duration = .milliseconds(50),
            requestTimeout: Duration = .seconds(30),
            transport: Transport = .http,
            tlsConfiguration: TLSConfiguration? = nil
        ) {
            self.tlsConfiguration = tlsConfiguration
            self.endpoints = endpoints
            self.credentials = credentials
            self.region = region
            self.maximumAttempts = max(1, maximumAttempts)
            self.initialBackoff = initialBackoff
            self.requestTimeout = requestTimeout
            self.transport = transport
        }

        /// Reads `PALISADE_ENDPOINT` (default `http://127.0.0.1:9000`; several gateways separated by
        /// commas), `PALISADE_ACCESS_KEY`,
        /// `PALISADE_SECRET_KEY` and `PALISADE_CA_FILE` (PEM certificates to trust for an
        /// `https://` endpoint, instead of the system's) from `environment`.
        public static func fromEnvironment(_ environment: [String: String]) -> Configuration {
            Configuration(
                endpoint: environment["PALISADE_ENDPOINT"] ?? "http://127.0.0.1:9000",
                credentials: SigV4Credentials(
                    accessKeyID: environment["PALISADE_ACCESS_KEY"] ?? "",
                    secretAccessKey: environment["PALISADE_SECRET_KEY"] ?? ""
                ),
                tlsConfiguration: environment["PALISADE_CA_FILE"].map(LockClient.trusting(caFile:))
            )
        }
    }

    /// How a client's calls reach the server.
    public enum Transport: Sendable, CaseIterable {
        /// One signed HTTP request per call (connections are pooled and kept alive).
        case http
        /// All calls over one lock session, a WebSocket signed once (`Protocol/lock-sessions.md`):
        /// much less work per call on both sides. Copies of the client share the session. A call
        /// whose session the server refuses to open goes over HTTP instead, which answers why, and
        /// so do the calls of the next 30 seconds, before the session is asked for again. Over
        /// `https://`, the endpoint must name the server by host name, not IP address (else calls
        /// go over HTTP).
        case session
    }

    public let configuration: Configuration
    let httpClient: HTTPClient
    let signer: SigV4Signer
    let session: LockSessionConnection?

    /// A client using `httpClient` (by default ``sharedHTTPClient``) for the HTTP transport.
    public init(configuration: Configuration, httpClient: HTTPClient = LockClient.sharedHTTPClient) {
        self.init(configuration: configuration, httpClient: httpClient, now: { .now })
    }

    /// A client whose lock session, if it uses one, reads the time from `now`.
    init(
        configuration: Configuration,
        httpClient: HTTPClient,
        now: @escaping @Sendable () -> ContinuousClock.Instant
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        let signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region, service: "s3")
        self.signer = signer
        self.session =
            configuration.transport == .session && configuration.endpoints.all.allSatisfy(Self.canOpenSession(to:))
            ? LockSessionConnection(
                endpoints: configuration.endpoints,
                signer: signer,
                tlsConfiguration: configuration.tlsConfiguration,
                now: now
            ) : nil
    }

    /// Closes the client's lock session, if it uses one (its next call opens a new one).
    public func close() async {
        await session?.close()
    }

    /// The process-wide HTTP client that lock clients use by default. Its pool allows many
    /// connections per host, because every waiting acquire or watch holds one for its whole long
    /// poll, and keep-alives must never queue behind them. Connection attempts give up after
    /// ``connectTimeout`` and are retried by ``LockClient`` itself.
    public static let sharedHTTPClient: HTTPClient = makeHTTPClient(connectTimeout: connectTimeout)

    /// How long one connection attempt may take.
    public static let connectTimeout: Duration = .seconds(3)

    /// Whether a lock session can reach `endpoint`: not over `https://` to an IP address, which the
    /// WebSocket client's TLS cannot name (SNI takes host names only); a client with such an
    /// endpoint sends its calls over HTTP.
    static func canOpenSession(to endpoint: String) -> Bool {
        guard endpoint.lowercased().hasPrefix("https://") else { return true }
        let host = authority(of: endpoint)
        return !(host.hasPrefix("[") || host.prefix { $0 != ":" }.allSatisfy { $0.isNumber || $0 == "." })
    }

    /// A client TLS set-up that trusts the PEM certificates in `caFile` (a private CA's, say).
    public static func trusting(caFile: String) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        return configuration
    }

    /// An HTTP client configured as ``sharedHTTPClient`` is, with its own connect timeout and
    /// TLS set-up (nil: the system's roots); the caller shuts it down.
    public static func makeHTTPClient(connectTimeout: Duration, tlsConfiguration: TLSConfiguration? = nil) -> HTTPClient
    {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: 1024
        )
        configuration.timeout = .init(connect: .milliseconds(connectTimeout.milliseconds))
        configuration.tlsConfiguration = tlsConfiguration
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    // MARK: Leases

    /// Grants a lease. Prefer ``withLease(ttl:_:)`` or ``withLock(_:ttl:wait:mode:_:)``, which keep it alive.
    public func grantLease(ttl: Duration) async throws(LockClientError) -> LeaseResponse {
        try await call("POST", "/leases", body: GrantLeaseRequest(ttlMilliseconds: ttl.milliseconds))
    }

    /// Renews a lease to its full TTL.
    public func keepAlive(_ lease: LeaseID) async throws(LockClientError) -> LeaseResponse {
        try await call("POST", "/leases/\(lease)/keepalive")
    }

    /// Renews a lease, giving each attempt `attemptTimeout` before the next gateway is tried.
    func keepAlive(_ lease: LeaseID, attemptTimeout: Duration) async throws(LockClientError) -> LeaseResponse {
        try await call("POST", "/leases/\(lease)/keepalive", attemptTimeout: attemptTimeout)
    }

    /// Revokes a lease, releasing every lock it holds.
    public func revokeLease(_ lease: LeaseID) async throws(LockClientError) -> RevokeLeaseResponse {
        try await call("DELETE", "/leases/\(lease)")
    }

    /// Inspects a lease.
    public func lease(_ lease: LeaseID) async throws(LockClientError) -> LeaseResponse {
        try await call("GET", "/leases/\(lease)")
    }

    /// Waits up to `wait` for a lease to end.
    public func watchLease(_ lease: LeaseID, wait: Duration) async throws(LockClientError) -> WatchResponse {
        try await call(
            "POST",
            "/leases/\(lease)/watch",
            body: WatchRequest(waitMilliseconds: wait.milliseconds),
            wait: wait
        )
    }

    // MARK: Locks

    /// Acquires `name` under `lease`, waiting up to `wait` in the lock's FIFO queue.
    /// - Throws: `LockHeld` (when `wait` is zero), `WaitTimeout`, `LeaseNotFound`, `LeaseLost`, …
    public func acquire(
        _ name: LockName,
        lease: LeaseID,
        mode: LockMode = .exclusive,
        wait: Duration
    ) async throws(LockClientError)
        -> GrantResponse
    {
        try await call(
            "POST",
            "/locks/acquire",
            body: AcquireRequest(name: name, leaseID: lease, mode: mode, waitMilliseconds: wait.milliseconds),
            wait: wait
        )
    }

    /// Acquires `name` if it is free right now; nil when it is held.
    public func tryAcquire(
        _ name: LockName,
        lease: LeaseID,
        mode: LockMode = .exclusive
    ) async throws(LockClientError) -> GrantResponse? {
        do {
            return try await acquire(name, lease: lease, mode: mode, wait: .zero)
        } catch  where error.code == LockAPIErrorCode.lockHeld {
            return nil
        }
    }

    /// Releases a grant (with its token), or gives up the lease's wait or holding (without one).
    public func release(
        _ name: LockName,
        lease: LeaseID,
        token: FencingToken?
    ) async throws(LockClientError) -> ReleaseResponse {
        try await call("POST", "/locks/release", body: ReleaseRequest(name: name, leaseID: lease, token: token))
    }

    /// Who holds `name` and who waits for it.
    public func status(_ name: LockName) async throws(LockClientError) -> LockStatusResponse {
        try await call("GET", "/locks", query: "name=" + SigV4.uriEncode(name.rawValue))
    }

    /// Whether `token` is the live holder of `name` right now (Chubby's CheckSequencer).
    public func validate(_ name: LockName, token: FencingToken) async throws(LockClientError) -> ValidateResponse {
        try await call("POST", "/locks/validate", body: ValidateRequest(name: name, token: token))
    }

    /// Waits up to `wait` for the grant `token` of `name` to be released or lost.
    public func watchLock(
        _ name: LockName,
        token: FencingToken,
        wait: Duration
    ) async throws(LockClientError) -> WatchResponse {
        try await call(
            "POST",
            "/locks/watch",
            body: WatchRequest(name: name, token: token, waitMilliseconds: wait.milliseconds),
            wait: wait
        )
    }

    /// An operator's action: frees `name` from all its holders (an unclean release; the lock-delay follows).
    public func forceRelease(_ name: LockName) async throws(LockClientError) -> ForceReleaseResponse {
        try await call("POST", "/admin/locks/force-release", body: ForceReleaseRequest(name: name))
    }

    // MARK: Transport

    private struct NoBody: Encodable {}

    func call<Response: Decodable>(
        _ method: String,
        _ path: String,
        query: String = "",
        wait: Duration = .zero,
        attemptTimeout: Duration? = nil
    ) async throws(LockClientError) -> Response {
        try await call(method, path, query: query, bodyData: Data(), wait: wait, attemptTimeout: attemptTimeout)
    }

    func call<Response: Decodable>(
        _ method: String,
        _ path: String,
        query: String = "",
        body: some Encodable,
        wait: Duration = .zero
    ) async throws(LockClientError) -> Response {
        let data: Data
        // The messages of a lock loop are written without Foundation's encoder.
        if let flat = body as? any FlatJSONEncodable {
            data = Data(flat.flatJSON.utf8)
        } else {
            do { data = try JSONEncoder().encode(body) } catch {
                throw LockClientError(
                    code: LockClientError.invalidResponseCode,
                    message: "cannot encode the request: \(error)"
                )
            }
        }
        return try await call(method, path, query: query, bodyData: data, wait: wait)
    }

    private func call<Response: Decodable>(
        _ method: String,
        _ path: String,
        query: String,
        bodyData: Data,
        wait: Duration,
        attemptTimeout: Duration? = nil
    ) async throws(LockClientError) -> Response {
        let fullPath = PalisadePaths.v1 + path
        let timeout = attemptTimeout ?? wait + configuration.requestTimeout
        var backoff = configuration.initialBackoff
        var attempt = 1
        while true {
            let failure: any Error
            do {
                let answer = try await send(method, path, query: query, body: bodyData, timeout: timeout)
                let decoded = Result { () throws(LockClientError) -> Response in
                    try decodeAnswer(status: answer.status, headers: answer.headers, body: answer.body)
                }
                switch decoded {
                case .success(let response): return response
                case .failure(let error)
                where error.code == LockAPIErrorCode.serviceUnavailable && configuration.endpoints.all.count > 1:
                    // The gateway cannot serve now (it lost its store, or it is shutting down): another may.
                    configuration.endpoints.failed(answer.endpoint)
                    failure = error
                case .failure(let error): throw error
                }
            } catch let error as LockClientError {
                throw error
            } catch {
                failure = error
            }
            guard attempt < configuration.maximumAttempts, !Task.isCancelled else {
                if let answered = failure as? LockClientError { throw answered }
                throw LockClientError(
                    code: LockClientError.connectionFailedCode,
                    message: "\(method) \(fullPath) failed after \(attempt) attempt(s): \(failure)"
                )
            }
            try? await Task.sleep(for: backoff)
            backoff *= 2
            attempt += 1
        }
    }

    /// One call's answer, and the gateway that gave it.
    private struct Answer {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: ByteBuffer
        var endpoint: String
    }

    /// Sends one call, failing when no answer comes within `timeout`; `path` is below
    /// `/_palisade/v1`, as lock sessions name calls. A gateway that cannot be reached is reported
    /// to ``Configuration/endpoints``.
    private func send(
        _ method: String,
        _ path: String,
        query: String,
        body: Data,
        timeout: Duration
    ) async throws -> Answer {
        if let session {
            do {
                let answer = try await session.call(method, path, query: query, body: body, timeout: timeout)
                return Answer(
                    status: HTTPResponseStatus(statusCode: answer.status),
                    headers: [PalisadeHeaders.requestID: answer.requestID],
                    body: answer.body,
                    endpoint: answer.endpoint
                )
            } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
                // The server refused the session (a wrong key, say): the call goes over plain HTTP,
                // whose answer says why, or which still works if the session endpoint is out of reach.
            }
        }
        let endpoint = configuration.endpoints.current
        let path = PalisadePaths.v1 + path
        var request = HTTPClientRequest(url: endpoint + path + (query.isEmpty ? "" : "?" + query))
        request.method = HTTPMethod(rawValue: method)
        for header in signer.requestHeaders(
            method: method,
            path: path,
            query: query,
            host: Self.authority(of: endpoint),
            headers: body.isEmpty ? [] : [("content-type", "application/json")],
            payloadHash: SigV4.hexSHA256(body)
        ) {
            request.headers.add(name: header.name, value: header.value)
        }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await httpClient.execute(request, timeout: .milliseconds(timeout.milliseconds))
            let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
            return Answer(status: response.status, headers: response.headers, body: bytes, endpoint: endpoint)
        } catch {
            if !Task.isCancelled { configuration.endpoints.failed(endpoint) }
            throw error
        }
    }

    private func decodeAnswer<Response: Decodable>(
        status: HTTPResponseStatus,
        headers: HTTPHeaders,
        body: ByteBuffer
    ) throws(LockClientError)
        -> Response
    {
        guard (200..<300).contains(status.code) else {
            if let error = try? JSONDecoder().decode(LockAPIErrorBody.self, from: Data(body.readableBytesView)) {
                throw LockClientError(
                    code: error.code,
                    message: error.message,
                    status: Int(status.code),
                    requestID: error.requestID
                )
            }
            throw LockClientError(
                code: LockClientError.invalidResponseCode,
                message: "HTTP \(status.code) without a lock API error body",
                status: Int(status.code),
                requestID: headers.first(name: PalisadeHeaders.requestID)
            )
        }
        // The answers of a lock loop are read without Foundation's decoder when they are exactly valid.
        if let flat = Response.self as? any FlatJSONDecodable.Type,
            let value = body.withUnsafeReadableBytes({ flat.init(json: $0.assumingMemoryBound(to: UInt8.self)) })
                as? Response
        {
            return value
        }
        do {
            return try JSONDecoder().decode(Response.self, from: Data(body.readableBytesView))
        } catch {
            throw LockClientError(
                code: LockClientError.invalidResponseCode,
                message: "cannot decode the answer: \(error)"
            )
        }
    }

    /// `host:port` of an `http://host:port/...` URL.
    static func authority(of endpoint: String) -> String {
        let bytes = endpoint.utf8
        let start = bytes.firstRange(of: "://".utf8)?.upperBound ?? bytes.startIndex
        let end = bytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
        return String(endpoint[start..<end])
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
