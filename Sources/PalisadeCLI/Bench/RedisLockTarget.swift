import Foundation

/// The lock most teams put in front of S3 with Redis: `SET name value NX PX ttl` to acquire
/// (retried every millisecond while another client holds it: Redis has no waiting queue), and a
/// compare-and-delete script to release, one connection per client. It issues no fencing token.
struct RedisLockTarget: LockBenchTarget {
    let host: String
    let port: Int
    var name: String { "redis" }
    var issuesFencingTokens: Bool { false }

    /// A connection and the random value that marks this client's holdings.
    struct Session {
        let connection: RedisConnection
        let owner: String
        let releaseScript: String
    }

    /// Lease time of each holding, in milliseconds.
    let ttlMilliseconds = 30_000
    /// The canonical compare-and-delete release (redis.io's "distributed locks" pattern).
    static let releaseScript = """
        if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end
        """

    func withSession<Result: Sendable>(_ body: (Session) async throws -> Result) async throws -> Result {
        try await RedisConnection.with(host: host, port: port) { connection in
            guard case .bulk(let sha?) = try await connection.send("SCRIPT", "LOAD", Self.releaseScript) else {
                throw BenchError("redis refused to load the release script")
            }
            return try await body(Session(connection: connection, owner: UUID().uuidString, releaseScript: sha))
        }
    }

    func acquire(_ lock: String, in session: Session) async throws -> (holding: Void, token: UInt64?) {
        while true {
            switch try await session.connection.send("SET", lock, session.owner, "NX", "PX", String(ttlMilliseconds)) {
            case .simple("OK"): return ((), nil)
            case .bulk(nil): try await Task.sleep(for: .milliseconds(1))
            case let other: throw BenchError("redis SET answered \(other)")
            }
        }
    }

    func release(_ lock: String, _ holding: Void, in session: Session) async throws {
        let reply = try await session.connection.send("EVALSHA", session.releaseScript, "1", lock, session.owner)
        guard reply == .integer(1) else { throw BenchError("redis release answered \(reply): the holding was lost") }
    }

    func keepAlive(_ session: Session) async throws {}
}
