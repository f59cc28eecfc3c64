import GRDB
import PalisadeSQLite
import Synchronization

/// Commits that arrive while another is being written wait for it, then are written together:
/// one SQLite transaction, so one fsync of the WAL for the whole group. Each commit's body runs
/// in a savepoint of its own, so a body that throws (a refused precondition, a stale token)
/// changes nothing and does not affect the others; each caller is answered only once its group's
/// transaction has committed (or failed, when every caller in it gets the error: also when a
/// body's error ended the transaction, so no later body runs outside it).
final class GroupCommit: Sendable {
    private struct Pending: Sendable {
        /// Runs the body in a savepoint and keeps its outcome; rethrows only an error that ended
        /// the transaction itself (SQLite rolls it all back on a full disk or an I/O error).
        let run: @Sendable (Database) throws -> Void
        /// Answers the caller: with the body's outcome, or `groupError` when the transaction failed.
        let finish: @Sendable (_ groupError: (any Error)?) -> Void
    }

    private struct State {
        var waiting: [Pending] = []
        var writing = false
        var transactions = 0
        var commits = 0
    }

    private let database: DatabasePool
    private let state = Mutex(State())

    init(database: DatabasePool) {
        self.database = database
    }

    /// How many transactions have written how many commits so far.
    var counts: (transactions: Int, commits: Int) { state.withLock { ($0.transactions, $0.commits) } }

    /// Runs `body` inside a group's transaction and returns its value once that transaction has
    /// committed.
    func commit<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = Mutex<Result<T, any Error>?>(nil)
            let pending = Pending(
                run: { db in
                    do {
                        let value = try db.inPreparedSavepoint { try body(db) }
                        outcome.withLock { $0 = .success(value) }
                    } catch {
                        outcome.withLock { $0 = .failure(error) }
                        // The later bodies must not run outside the group's transaction.
                        if !db.isInsideTransaction { throw error }
                    }
                },
                finish: { groupError in
                    switch (outcome.withLock { $0 }, groupError) {
                    case (.failure(let error)?, _), (_, let error?): continuation.resume(throwing: error)
                    case (.success(let value)?, nil): continuation.resume(returning: value)
                    case (nil, nil): continuation.resume(throwing: DatabaseError(resultCode: .SQLITE_INTERNAL))
                    }
                }
            )
            let leads = state.withLock { state in
                state.waiting.append(pending)
                defer { state.writing = true }
                return !state.writing
            }
            if leads { Task { await self.writeGroups() } }
        }
    }

    /// Writes the waiting commits as one transaction, again and again until none wait.
    private func writeGroups() async {
        while true {
            let group = state.withLock { state -> [Pending] in
                let group = state.waiting
                state.waiting = []
                state.writing = !group.isEmpty
                if !group.isEmpty {
                    state.transactions += 1
                    state.commits += group.count
                }
                return group
            }
            if group.isEmpty { return }
            do {
                try await database.writeWithoutTransaction { db in
                    try db.inPreparedTransaction {
                        for pending in group { try pending.run(db) }
                    }
                }
                for pending in group { pending.finish(nil) }
            } catch {
                for pending in group { pending.finish(error) }
            }
        }
    }
}
