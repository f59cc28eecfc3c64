public import GRDB
import GRDBSQLite

/// How Palisade opens its SQLite databases (object metadata, lock state): WAL mode whose `-wal`
/// and `-shm` files are kept when the database closes, and the durability asked for.
public enum SQLiteSetup {
    /// The configuration to open a database with.
    ///
    /// The WAL is persistent (`SQLITE_FCNTL_PERSIST_WAL`): the `-wal` and `-shm` files stay after
    /// the last connection closes, so a restart on a full disk need not create them again.
    public static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            let code = keepWAL(of: db.sqliteConnection!)
            guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
        }
        return configuration
    }

    /// Makes `connection` keep the `-wal` and `-shm` files when it closes (`SQLITE_FCNTL_PERSIST_WAL`),
    /// for connections opened without GRDB.
    /// - Returns: SQLite's result code.
    public static func keepWAL(of connection: OpaquePointer) -> CInt {
        var persist: CInt = 1
        return withUnsafeMutablePointer(to: &persist) {
            sqlite3_file_control(connection, nil, SQLITE_FCNTL_PERSIST_WAL, $0)
        }
    }

    /// Sets how commits are synced on the writer connection: `FULL` (each commit is fsynced before
    /// it returns) when `durable`, else `NORMAL` (a commit survives a crash of the process, not
    /// necessarily a power loss).
    ///
    /// Call it once the database is open: GRDB's WAL set-up runs after `prepareDatabase` and sets
    /// `NORMAL` itself.
    public static func setDurability(of writer: some DatabaseWriter, durable: Bool) throws {
        try writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(durable ? "FULL" : "NORMAL")")
        }
    }
}

extension Database {
    /// Runs `body` in an immediate transaction: committed when `body` returns, rolled back when it
    /// (or the commit) throws. Unlike GRDB's `inTransaction`, it prepares its BEGIN, COMMIT and
    /// ROLLBACK once per connection rather than at every transaction, which cost a lock change more
    /// than its own writes.
    public func inPreparedTransaction<T>(_ body: () throws -> T) throws -> T {
        try cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
        do {
            let value = try body()
            try cachedStatement(sql: "COMMIT TRANSACTION").execute()
            return value
        } catch {
            if isInsideTransaction { try? cachedStatement(sql: "ROLLBACK TRANSACTION").execute() }
            throw error
        }
    }

    /// Runs `body` in a savepoint of the current transaction: released when `body` returns, its
    /// changes undone when it throws. Should they not be undone alone, the whole transaction is
    /// rolled back, so that no part of them is ever committed. Statements prepared once per
    /// connection, as in ``inPreparedTransaction(_:)``.
    public func inPreparedSavepoint<T>(_ body: () throws -> T) throws -> T {
        try cachedStatement(sql: "SAVEPOINT palisade").execute()
        do {
            let value = try body()
            try cachedStatement(sql: "RELEASE SAVEPOINT palisade").execute()
            return value
        } catch {
            if isInsideTransaction {
                do {
                    try cachedStatement(sql: "ROLLBACK TRANSACTION TO SAVEPOINT palisade").execute()
                    try cachedStatement(sql: "RELEASE SAVEPOINT palisade").execute()
                } catch {
                    try? cachedStatement(sql: "ROLLBACK TRANSACTION").execute()
                }
            }
            throw error
        }
    }
}
