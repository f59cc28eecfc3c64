import Foundation
import LockCore
import PalisadeProtocol
import Synchronization
import Testing

@testable import LockEngine

/// A store that records each transaction and takes a while to commit it, like a disk.
final class RecordingStore: LockStateStore {
    let transactions = Mutex<[[LockStateChange]]>([])

    func load() throws -> [LeaseRecord] { [] }

    func apply(_ changes: [LockStateChange]) throws {
        Thread.sleep(forTimeInterval: 0.002)
        transactions.withLock { $0.append(changes) }
    }

    var saved: [LockStateChange] { transactions.withLock { $0.flatMap { $0 } } }
}

@Suite("LockStateJournal")
struct LockStateJournalTests {
    static func change(_ index: Int) -> LockStateChange {
        .leaseEnded(LeaseID(rawValue: String(format: "%032x", index))!)
    }

    @Test("a step is saved when saved(through:) returns; steps that arrive during a commit share the next one")
    func groupCommit() async throws {
        let store = RecordingStore()
        let journal = LockStateJournal(store: store) { error in Issue.record("unexpected failure: \(error)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let sequence = journal.append([Self.change(index)])
                    await journal.saved(through: sequence)
                    #expect(store.saved.contains(Self.change(index)))
                }
            }
            try await group.waitForAll()
        }
        let saved = store.saved
        #expect(saved.count == 64 && (0..<64).allSatisfy { saved.contains(Self.change($0)) })
        let commits = store.transactions.withLock { $0.count }
        #expect(commits < 64, "\(commits) commits for 64 steps: no step shared a commit")
    }

    @Test("changes are written in the order their steps were appended")
    func order() async {
        let store = RecordingStore()
        let journal = LockStateJournal(store: store) { _ in }
        var last: UInt64 = 0
        for index in 0..<20 { last = journal.append([Self.change(index)]) }
        await journal.saved(through: last)
        #expect(store.saved == (0..<20).map(Self.change))
        journal.flush()
        #expect(journal.lastAppended == 20)
    }
}
