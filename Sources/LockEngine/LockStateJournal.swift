import Dispatch
import Synchronization

/// Saves the lock service's state changes off the actor, with group commit: the changes of every
/// step that arrives while a transaction is being written go into the next transaction, so under
/// load one commit serves many steps. The service waits for ``saved(through:)`` before it answers
/// a caller, so an answered step is always saved, as when each step committed on its own.
final class LockStateJournal: Sendable {
    private struct State {
        var pending: [LockStateChange] = []
        /// Steps appended so far; a step's sequence number is the count after it.
        var appended: UInt64 = 0
        /// Steps written (or, when writing failed, given up) so far.
        var saved: UInt64 = 0
        var isWriting = false
        var waiters: [(through: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let store: any LockStateStore
    private let state = Mutex(State())
    /// Commits block, so they run on a thread of their own, never on the concurrency pool.
    private let queue = DispatchQueue(label: "palisade.lock-state")
    private let onFailure: @Sendable (any Error) -> Void

    /// A journal writing to `store`; `onFailure` hears of every transaction that could not be written.
    init(store: any LockStateStore, onFailure: @escaping @Sendable (any Error) -> Void) {
        self.store = store
        self.onFailure = onFailure
    }

    /// Queues one step's changes (in order after every step appended before).
    /// - Returns: the step's sequence number, for ``saved(through:)``.
    @discardableResult
    func append(_ changes: [LockStateChange]) -> UInt64 {
        let (sequence, startWriter) = state.withLock { state in
            state.pending += changes
            state.appended += 1
            defer { state.isWriting = true }
            return (state.appended, !state.isWriting)
        }
        if startWriter { queue.async { self.writeAll() } }
        return sequence
    }

    /// The sequence number of the last step appended.
    var lastAppended: UInt64 { state.withLock { $0.appended } }

    /// Returns once every step up to `sequence` has been written.
    func saved(through sequence: UInt64) async {
        if state.withLock({ $0.saved >= sequence }) { return }
        await withCheckedContinuation { continuation in
            let isSaved = state.withLock { state in
                if state.saved >= sequence { return true }
                state.waiters.append((sequence, continuation))
                return false
            }
            if isSaved { continuation.resume() }
        }
    }

    /// Blocks until everything appended so far is written (at shutdown, when no step follows).
    func flush() {
        queue.sync {}
    }

    /// Writes batches until nothing is pending, one transaction per batch.
    private func writeAll() {
        while true {
            let next: (changes: [LockStateChange], through: UInt64)? = state.withLock { state in
                guard state.saved < state.appended else {
                    state.isWriting = false
                    return nil
                }
                defer { state.pending = [] }
                return (state.pending, state.appended)
            }
            guard let (changes, through) = next else { return }
            do {
                try store.apply(changes)
            } catch {
                onFailure(error)
            }
            let ready = state.withLock { state in
                state.saved = through
                let ready = state.waiters.filter { $0.through <= through }
                state.waiters.removeAll { $0.through <= through }
                return ready
            }
            for waiter in ready { waiter.continuation.resume() }
        }
    }
}
