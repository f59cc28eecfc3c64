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

/// Palisade's lock API through ``LockClient``: one lease per client, acquire with a long-poll wait.
struct PalisadeLockTarget: LockBenchTarget {
    let client: LockClient
    var name: String { "palisade" }
    var issuesFencingTokens: Bool { true }

    func withSession<Result: Sendable>(_ body: (LeaseID) async throws -> Result) async throws -> Result {
        let lease = try await client.grantLease(ttl: .seconds(30)).leaseID
        do {
            let result = try await body(lease)
            _ = try? await client.revokeLease(lease)
            return result
        } catch {
            _ = try? await client.revokeLease(lease)
            throw error
        }
    }

    func acquire(_ lock: String, in lease: LeaseID) async throws -> (holding: FencingToken, token: UInt64?) {
        guard let name = LockName(rawValue: lock) else { throw BenchError("invalid lock name \(lock)") }
        let grant = try await client.acquire(name, lease: lease, wait: .seconds(30))
        return (grant.token, grant.token.rawValue)
    }

    func release(_ lock: String, _ token: FencingToken, in lease: LeaseID) async throws {
        guard let name = LockName(rawValue: lock) else { throw BenchError("invalid lock name \(lock)") }
        _ = try await client.release(name, lease: lease, token: token)
    }

    func keepAlive(_ lease: LeaseID) async throws {
        _ = try await client.keepAlive(lease)
    }
}
