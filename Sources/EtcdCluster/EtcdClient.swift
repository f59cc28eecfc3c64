public import EtcdAPI
public import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOCore

/// A client of one etcd cluster through etcd's gRPC API: one HTTP/2 channel with a connection to
/// every member, calls spread round robin over the members that answer, so a member that is down
/// is skipped. Call ``run()`` (a task for the client's lifetime) before any call.
///
/// A read is retried on another member when its member cannot be reached. A transaction is not:
/// when the connection fails after it was sent, etcd may have applied it, and only the caller's
/// own compares can tell (``EtcdError/mayHaveApplied``).
public final class EtcdClient: Sendable {
    typealias Transport = HTTP2ClientTransport.Posix

    let grpc: GRPCClient<Transport>
    let kv: Etcdserverpb_KV.Client<Transport>
    let leases: Etcdserverpb_Lease.Client<Transport>
    let watchStream: EtcdWatches
    let keepAlives: EtcdKeepAlives
    /// How long a call waits for a member to become reachable, and then for its answer.
    let callTimeout: Duration

    /// A client of the members at `endpoints`.
    /// - Parameter callTimeout: the longest a call waits (for a reachable member, then the answer).
    public init(endpoints: [EtcdEndpoint], callTimeout: Duration = .seconds(5)) throws {
        precondition(!endpoints.isEmpty, "an etcd cluster has at least one member")
        var serviceConfig = ServiceConfig()
        serviceConfig.loadBalancingConfig = [.roundRobin]
        var config = Transport.Config.defaults
        config.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(InboundPingResponder(), position: .first)
            }
        }
        let transport = try Transport(
            target: .ipv4(pairs: endpoints.map { (host: $0.host, port: $0.port) }),
            transportSecurity: .plaintext,
            config: config,
            serviceConfig: serviceConfig
        )
        grpc = GRPCClient(transport: transport)
        kv = Etcdserverpb_KV.Client(wrapping: grpc)
        leases = Etcdserverpb_Lease.Client(wrapping: grpc)
        watchStream = EtcdWatches(client: Etcdserverpb_Watch.Client(wrapping: grpc))
        keepAlives = EtcdKeepAlives(client: leases)
        self.callTimeout = callTimeout
    }

    /// Keeps the connections to the members until ``shutDown()``.
    public func run() async throws { try await grpc.runConnections() }

    /// Ends the connections once the calls in flight are done.
    public func shutDown() {
        watchStream.close()
        keepAlives.close()
        grpc.beginGracefulShutdown()
    }

    /// The options of every call: wait for a reachable member (a call is not sent to none), bounded.
    var options: CallOptions {
        var options = CallOptions.defaults
        options.timeout = callTimeout
        options.waitForReady = true
        return options
    }

    /// Reads the keys in `[key, end)` (only `key` when `end` is nil) at `revision` (0: the latest).
    public func range(
        _ key: Data,
        end: Data? = nil,
        limit: Int = 0,
        revision: Int64 = 0
    ) async throws(EtcdError) -> Etcdserverpb_RangeResponse {
        var request = Etcdserverpb_RangeRequest()
        request.key = key
        if let end { request.rangeEnd = end }
        request.limit = Int64(limit)
        request.revision = revision
        return try await retryingRead { [kv, options, request] in try await kv.range(request, options: options) }
    }

    /// Several reads at one revision (0: the latest), in one round trip.
    public func read(_ ranges: [Etcdserverpb_RangeRequest]) async throws(EtcdError) -> Etcdserverpb_TxnResponse {
        var request = Etcdserverpb_TxnRequest()
        request.success = ranges.map { range in
            var operation = Etcdserverpb_RequestOp()
            operation.requestRange = range
            return operation
        }
        return try await retryingRead { [kv, options, request] in try await kv.txn(request, options: options) }
    }

    /// Applies `request` once: its compares, then its success or failure operations, atomically.
    public func txn(_ request: Etcdserverpb_TxnRequest) async throws(EtcdError) -> Etcdserverpb_TxnResponse {
        do {
            return try await kv.txn(request, options: options)
        } catch {
            throw EtcdError(error, sent: true)
        }
    }

    // MARK: Leases

    /// Grants etcd lease `id` with `ttl` seconds; etcd may grant more (its minimum TTL).
    /// - Returns: the TTL granted, in seconds.
    public func grantLease(id: Int64, ttl: Int64) async throws(EtcdError) -> Int64 {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.id = id
        request.ttl = ttl
        let response: Etcdserverpb_LeaseGrantResponse
        do {
            response = try await leases.leaseGrant(request, options: options)
        } catch {
            throw EtcdError(error, sent: true)
        }
        guard response.error.isEmpty else { throw EtcdError(message: response.error) }
        return response.ttl
    }

    /// Renews lease `id` to its full TTL. - Returns: the TTL in seconds, or nil when the lease is gone.
    public func keepAlive(_ id: Int64) async throws(EtcdError) -> Int64? {
        do {
            return try await keepAlives.keepAlive(id)
        } catch {
            throw EtcdError(error, sent: true)
        }
    }

    /// Revokes lease `id`: etcd deletes every key attached to it. Revoking a lease that is gone succeeds.
    public func revokeLease(_ id: Int64) async throws(EtcdError) {
        var request = Etcdserverpb_LeaseRevokeRequest()
        request.id = id
        do {
            _ = try await leases.leaseRevoke(request, options: options)
        } catch let error as RPCError where error.code == .notFound {
            return
        } catch {
            throw EtcdError(error, sent: true)
        }
    }

    /// The seconds left of lease `id`, or nil when it is gone.
    public func timeToLive(_ id: Int64) async throws(EtcdError) -> Int64? {
        var request = Etcdserverpb_LeaseTimeToLiveRequest()
        request.id = id
        let response = try await retryingRead { [leases, options, request] in
            try await leases.leaseTimeToLive(request, options: options)
        }
        return response.ttl >= 0 ? response.ttl : nil
    }

    // MARK: Watches

    /// The changes to the keys in each of `ranges` (`end` empty: one key) from `revision` on, in
    /// batches (each event with the key's value before it), until the caller stops iterating or the
    /// stream fails. Every watch of this client shares one stream.
    public func changes(
        of ranges: [(key: Data, end: Data)],
        from revision: Int64
    ) -> AsyncThrowingStream<[Mvccpb_Event], any Error> {
        watchStream.changes(of: ranges, from: revision)
    }

    /// Runs a read, once more on another member while its member cannot be reached (bounded by count).
    private func retryingRead<T: Sendable>(_ call: @Sendable () async throws -> T) async throws(EtcdError) -> T {
        var attempt = 0
        while true {
            do {
                return try await call()
            } catch {
                let failure = EtcdError(error, sent: false)
                attempt += 1
                guard failure.isUnavailable, attempt < 3 else { throw failure }
            }
        }
    }
}

/// One etcd member's client URL: `http://host:port`.
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `http://HOST:PORT` (an IPv4 address or `localhost`); nil for anything else.
    public init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        let authority = text.dropFirst("http://".count).split(separator: "/", maxSplits: 1).first ?? ""
        let parts = authority.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65_535).contains(port) else { return nil }
        let host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return nil }
        self.init(host: host, port: port)
    }

    /// Parses a comma-separated list, as `--etcd` takes it.
    public static func list(_ text: String) -> [EtcdEndpoint]? {
        let endpoints = text.split(separator: ",").map { EtcdEndpoint(String($0)) }
        guard !endpoints.isEmpty, endpoints.allSatisfy({ $0 != nil }) else { return nil }
        return endpoints.compactMap { $0 }
    }

    public var description: String { "http://\(host):\(port)" }
}

/// A call to etcd that failed.
public struct EtcdError: Error, Sendable, CustomStringConvertible {
    /// What etcd (or the connection) said.
    public var message: String
    /// True when no member could be reached or the call's member went away.
    public var isUnavailable: Bool
    /// True when the request was sent and may have been applied although no answer came.
    public var mayHaveApplied: Bool

    init(message: String) {
        self.message = message
        isUnavailable = false
        mayHaveApplied = false
    }

    init(_ error: any Error, sent: Bool) {
        if let rpc = error as? RPCError {
            message = "\(rpc.code): \(rpc.message)"
            isUnavailable = rpc.code == .unavailable || rpc.code == .deadlineExceeded
            mayHaveApplied = sent && isUnavailable
        } else {
            message = "\(error)"
            isUnavailable = false
            mayHaveApplied = sent
        }
    }

    public var description: String { "etcd: \(message)" }
}
