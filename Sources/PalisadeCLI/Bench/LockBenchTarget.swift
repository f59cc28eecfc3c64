import PalisadeClient
import PalisadeProtocol

/// A lock service that ``LockBench`` can load: Palisade, or a peer users would otherwise run
/// (etcd's lock API, a Redis `SET NX PX` lock), so that one load generator measures them all.
protocol LockBenchTarget: Sendable {
    /// What one client keeps for its whole run: a lease, a connection.
    associatedtype Session
    /// What a release needs besides the lock's name.
    associatedtype Holding

    /// A short name for tables (`palisade`, `etcd`, `redis`).
    var name: String { get }
    /// Whether ``acquire(_:in:)`` returns fencing tokens (then the benchmark checks their order).
    var issuesFencingTokens: Bool { get }

    /// Opens a session, runs `body` with it, and closes it whatever happens.
    func withSession<Result: Sendable>(_ body: (Session) async throws -> Result) async throws -> Result

    /// Acquires `lock` exclusively, waiting while another client holds it.
    /// - Returns: what the release needs, and the fencing token when the service issues one.
    func acquire(_ lock: String, in session: Session) async throws -> (holding: Holding, token: UInt64?)

    /// Releases what ``acquire(_:in:)`` returned.
    func release(_ lock: String, _ holding: Holding, in session: Session) async throws

    /// Keeps the session's lease alive; called every few dozen cycles.
    func keepAlive(_ session: Session) async throws
}

/// Palisade's lock API through ``LockClient``: one lease per client, acquire with a long-poll wait,
/// over HTTP or over a lock session of the client's own (as separate processes would have).
struct PalisadeLockTarget: LockBenchTarget {
    /// One benchmark client: its own ``LockClient`` (so its own session) and lease.
    struct Session {
        let client: LockClient
        let lease: LeaseID
    }

    /// Each client's configuration is this one, with its gateways from ``gateways``.
    let configuration: LockClient.Configuration
    let gateways: RoundRobin
    var name: String { configuration.transport == .session ? "palisade-session" : "palisade" }
    var issuesFencingTokens: Bool { true }

    init(configuration: LockClient.Configuration) {
        self.configuration = configuration
        gateways = RoundRobin(configuration.endpoints)
    }

    func withSession<Result: Sendable>(_ body: (Session) async throws -> Result) async throws -> Result {
        var configuration = configuration
        configuration.endpoints = gateways.next()
        let client = LockClient(configuration: configuration)
        do {
            let session = Session(client: client, lease: try await client.grantLease(ttl: .seconds(30)).leaseID)
            let result = try await body(session)
            _ = try? await client.revokeLease(session.lease)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    func acquire(_ lock: String, in session: Session) async throws -> (holding: FencingToken, token: UInt64?) {
        guard let name = LockName(rawValue: lock) else { throw BenchError("invalid lock name \(lock)") }
        let grant = try await session.client.acquire(name, lease: session.lease, wait: .seconds(30))
        return (grant.token, grant.token.rawValue)
    }

    func release(_ lock: String, _ token: FencingToken, in session: Session) async throws {
        guard let name = LockName(rawValue: lock) else { throw BenchError("invalid lock name \(lock)") }
        _ = try await session.client.release(name, lease: session.lease, token: token)
    }

    func keepAlive(_ session: Session) async throws {
        _ = try await session.client.keepAlive(session.lease)
    }
}
