import Foundation
import GRDB
import PalisadeSQLite
import PalisadeTestSupport
import Testing

@testable import StorageEngine

/// Group commit's transactions and savepoints: a body that writes and then throws leaves nothing
/// behind, even when it shares its transaction with bodies that succeed.
@Suite("group commit and prepared transactions")
struct GroupCommitTests {
    struct Refused: Error {}

    func makeDatabase() throws -> DatabasePool {
        let database = try DatabasePool(
            path: try makeTemporaryDirectory() + "/test.sqlite",
            configuration: SQLiteSetup.configuration()
        )
        try database.write { db in try db.execute(sql: "CREATE TABLE row (id INTEGER PRIMARY KEY)") }
        return database
    }

    func rows(_ database: DatabasePool) throws -> [Int] {
        try database.read { db in try Int.fetchAll(db, sql: "SELECT id FROM row ORDER BY id") }
    }

    @Test("bodies that write and then throw in a shared transaction leave nothing; the others are all kept")
    func refusedBodiesLeaveNothing() async throws {
        let database = try makeDatabase()
        let commits = GroupCommit(database: database)
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for id in 1...60 {
                group.addTask {
                    do {
                        try await commits.commit { db in
                            try db.execute(sql: "INSERT INTO row (id) VALUES (?)", arguments: [id])
                            if id % 3 == 0 { throw Refused() }
                        }
                        return (id, true)
                    } catch {
                        return (id, false)
                    }
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.filter(\.value).keys.sorted() == (1...60).filter { $0 % 3 != 0 })
        #expect(try rows(database) == (1...60).filter { $0 % 3 != 0 })
        #expect(commits.counts.commits == 60)
        // A body that fails on SQLite's own error (a duplicate key) is refused alone too.
        await #expect(throws: DatabaseError.self) {
            try await commits.commit { db in try db.execute(sql: "INSERT INTO row (id) VALUES (1)") }
        }
        try await commits.commit { db in try db.execute(sql: "INSERT INTO row (id) VALUES (3)") }
        #expect(try rows(database).contains(3))
    }

    @Test("a prepared transaction commits what its body wrote, or nothing when it throws, again and again")
    func preparedTransactions() throws {
        let database = try makeDatabase()
        for round in 0..<3 {
            try database.writeWithoutTransaction { db in
                try db.inPreparedTransaction {
                    try db.execute(sql: "INSERT INTO row (id) VALUES (?)", arguments: [round * 2])
                }
                #expect(throws: Refused.self) {
                    try db.inPreparedTransaction {
                        try db.execute(sql: "INSERT INTO row (id) VALUES (?)", arguments: [round * 2 + 1])
                        throw Refused()
                    }
                }
                #expect(!db.isInsideTransaction)
                try db.inPreparedTransaction {
                    try db.execute(sql: "INSERT INTO row (id) VALUES (100)")
                    #expect(throws: Refused.self) {
                        try db.inPreparedSavepoint {
                            try db.execute(sql: "INSERT INTO row (id) VALUES (101)")
                            throw Refused()
                        }
                    }
                    try db.execute(sql: "DELETE FROM row WHERE id = 100")
                }
            }
        }
        #expect(try rows(database) == [0, 2, 4])
    }
}
