import GRDB
import LockCore
import PalisadeProtocol
import PalisadeSQLite
import PalisadeSupport

/// The embedded lock state store: one SQLite database in WAL mode.
///
/// Durable (the default), every transaction is fsynced before it counts as saved
/// (`synchronous = FULL`): an answered lock change survives a power loss, as in etcd. The journal
/// groups the steps that arrive while one transaction is written, so one fsync serves many.
/// Relaxed, commits use `synchronous = NORMAL`: they survive a crash of the server process
/// (kill -9) but a power loss may lose the last ones. Fencing tokens never depend on this choice
/// (see ``TokenHighWaterMark``).
public final class SQLiteLockStateStore: LockStateStore {
    private let database: DatabaseQueue
    private let reserve: SpaceReserve?

    /// Opens (creating when needed) the database at `path`.
    /// - Parameters:
    ///   - durable: fsync every transaction (`synchronous = FULL`).
    ///   - reserve: released when a transaction finds the disk full, so lock changes go on working.
    public init(path: String, durable: Bool, reserve: SpaceReserve? = nil) throws {
        self.reserve = reserve
        var configuration = SQLiteSetup.configuration()
        configuration.journalMode = .wal
        database = try DatabaseQueue(path: path, configuration: configuration)
        try SQLiteSetup.setDurability(of: database, durable: durable)
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS lease (
                        id TEXT PRIMARY KEY NOT NULL,
                        ttl_ms INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS holding (
                        name TEXT NOT NULL,
                        lease_id TEXT NOT NULL REFERENCES lease(id) ON DELETE CASCADE,
                        token INTEGER NOT NULL,
                        mode TEXT NOT NULL,
                        PRIMARY KEY (name, lease_id)
                    ) WITHOUT ROWID;
                    """
            )
            // Version 2 records who created each lease (an access key); older leases have no owner.
            if try !db.columns(in: "lease").contains(where: { $0.name == "owner" }) {
                try db.execute(sql: "ALTER TABLE lease ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
            }
        }
    }

    public func load() throws -> [LeaseRecord] {
        try database.read { db in
            var leases: [LeaseID: LeaseRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, ttl_ms, owner FROM lease") {
                guard let id = LeaseID(rawValue: row["id"]) else { continue }
                leases[id] = LeaseRecord(
                    id: id,
                    ttl: .milliseconds(row["ttl_ms"] as Int64),
                    owner: row["owner"],
                    holdings: []
                )
            }
            for row in try Row.fetchAll(db, sql: "SELECT name, lease_id, token, mode FROM holding ORDER BY token") {
                guard let id = LeaseID(rawValue: row["lease_id"]), let name = LockName(rawValue: row["name"]),
                    let mode = LockMode(rawValue: row["mode"])
                else { continue }
                let token = FencingToken(UInt64(bitPattern: row["token"] as Int64))
                leases[id]?.holdings.append(Grant(name: name, lease: id, token: token, mode: mode))
            }
            return leases.values.sorted { $0.id < $1.id }
        }
    }

    public func apply(_ changes: [LockStateChange]) throws {
        do {
            try write(changes)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL && reserve?.release() == true {
            try write(changes)
        }
    }

    private func write(_ changes: [LockStateChange]) throws {
        try database.writeWithoutTransaction { db in
            try db.inPreparedTransaction { try Self.write(changes, in: db) }
        }
    }

    private static func write(_ changes: [LockStateChange], in db: Database) throws {
        for change in changes {
            switch change {
            case .leaseGranted(let id, let ttl, let owner):
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO lease (id, ttl_ms, owner) VALUES (?, ?, ?)")
                    .execute(arguments: [id.rawValue, ttl.wholeMilliseconds, owner])
            case .leaseEnded(let id):
                try db.cachedStatement(sql: "DELETE FROM holding WHERE lease_id = ?").execute(arguments: [
                    id.rawValue
                ])
                try db.cachedStatement(sql: "DELETE FROM lease WHERE id = ?").execute(arguments: [id.rawValue])
            case .holderAdded(let grant):
                try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO holding (name, lease_id, token, mode) VALUES (?, ?, ?, ?)"
                )
                .execute(arguments: [
                    grant.name.rawValue, grant.lease.rawValue, Int64(bitPattern: grant.token.rawValue),
                    grant.mode.rawValue,
                ])
            case .holderRemoved(let grant):
                try db.cachedStatement(sql: "DELETE FROM holding WHERE name = ? AND lease_id = ? AND token = ?")
                    .execute(arguments: [
                        grant.name.rawValue, grant.lease.rawValue, Int64(bitPattern: grant.token.rawValue),
                    ])
            }
        }
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
