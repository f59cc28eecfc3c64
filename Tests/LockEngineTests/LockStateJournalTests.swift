import Foundation
import LockCore
import PalisadeProtocol
import Synchronization
import Testing

@testable import LockEngine

/// A store that records each transaction and takes a while to commit it, like a disk.
final class RecordingStore: LockStateStore {
    let transactions = Mutex<[[LockStateChange]]>([])
    /// While true, every transaction fails, as on a full disk.
    let isFailing = Mutex(false)

    func load() throws -> [LeaseRecord] { [] }

    func apply(_ changes: [LockStateChange]) throws {
        Thread.sleep(forTimeInterval: 0.002)
        if isFailing.withLock({ $0 }) { throw LockStorageError("disk full") }
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
                    journal.append([Self.change(index)])
                    #expect(await journal.saved(journal.ticket()))
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
        for index in 0..<20 { journal.append([Self.change(index)]) }
        #expect(await journal.saved(journal.ticket()))
        #expect(store.saved == (0..<20).map(Self.change))
    }

    @Test("a failed transaction refuses its steps and every later one until reset; then steps are written again")
    func failure() async {
        let store = RecordingStore()
        let failures = Mutex(0)
        let journal = LockStateJournal(store: store) { _ in failures.withLock { $0 += 1 } }
        journal.append([Self.change(0)])
        let first = journal.ticket()
        #expect(await journal.saved(first))
        store.isFailing.withLock { $0 = true }
        journal.append([Self.change(1)])
        let failed = journal.ticket()
        #expect(await journal.saved(failed) == false)
        #expect(journal.isBroken)
        store.isFailing.withLock { $0 = false }
        journal.append([Self.change(2)])
        #expect(await journal.saved(journal.ticket()) == false, "not written on top of the refused step")
        #expect(await journal.saved(first), "an earlier step stays saved")
        journal.reset()
        #expect(await journal.saved(journal.ticket()), "nothing since the reset: nothing unsaved to depend on")
        #expect(await journal.saved(failed) == false, "a refused step stays refused after the reset")
        journal.append([Self.change(3)])
        #expect(await journal.saved(journal.ticket()))
        #expect(store.saved == [Self.change(0), Self.change(3)])
        #expect(failures.withLock { $0 } == 1)
    }
}
