import Dispatch
import Synchronization

/// Saves the lock service's state changes off the actor, with group commit: the changes of every
/// step that arrives while a transaction is being written go into the next transaction, so under
/// load one commit serves many steps. The service answers a caller only once ``saved(_:)`` says
/// the steps its answer depends on were saved, so an answered step is always saved, as when each step committed alone.
///
/// When a transaction cannot be written, the journal is **broken**: that transaction's steps and
/// every later one are refused (their changes are dropped, never written on top of a gap) until the
/// service has reloaded its state from the store and calls ``reset()``.
final class LockStateJournal: Sendable {
    /// The steps a caller's answer depends on: those of the journal's current run up to its own
    /// (a run starts at each ``reset()``, from state reloaded from the store).
    struct Ticket: Sendable {
        let from: UInt64
        let through: UInt64
    }

    private struct State {
        var pending: [LockStateChange] = []
        /// Steps appended so far; a step's sequence number is the count after it.
        var appended: UInt64 = 0
        /// Steps settled so far: written, or refused.
        var settled: UInt64 = 0
        var isWriting = false
        /// The first refused step while the journal is broken.
        var brokenSince: UInt64?
        /// The first step of the current run.
        var firstOfRun: UInt64 = 1
        /// The refused steps of the last broken runs, and the first step whose fate is still known.
        var refusals: [ClosedRange<UInt64>] = []
        var knownFrom: UInt64 = 1
        var waiters: [(ticket: Ticket, continuation: CheckedContinuation<Bool, Never>)] = []

        /// Whether every step of a settled `ticket` was written.
        func wasSaved(_ ticket: Ticket) -> Bool {
            guard ticket.from <= ticket.through else { return true }
            if let broken = brokenSince, broken <= ticket.through { return false }
            guard ticket.from >= knownFrom else { return false }
            return !refusals.contains { $0.lowerBound <= ticket.through && $0.upperBound >= ticket.from }
        }
    }

    /// How many broken runs the journal remembers for tickets still being answered.
    private static let rememberedRefusals = 32

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

    /// Queues one step's changes (in order after every step appended before); a broken journal
    /// refuses them at once.
    /// - Returns: the step's sequence number.
    @discardableResult
    func append(_ changes: [LockStateChange]) -> UInt64 {
        let (sequence, startWriter) = state.withLock { state in
            state.appended += 1
            if state.brokenSince != nil {
                state.settled = state.appended
                return (state.appended, false)
            }
            state.pending += changes
            defer { state.isWriting = true }
            return (state.appended, !state.isWriting)
        }
        if startWriter { queue.async { self.writeAll() } }
        return sequence
    }

    /// The steps an answer given now depends on.
    func ticket() -> Ticket {
        state.withLock { Ticket(from: $0.firstOfRun, through: $0.appended) }
    }

    /// Whether the journal refuses steps until ``reset()``.
    var isBroken: Bool { state.withLock { $0.brokenSince != nil } }

    /// Waits until every step of `ticket` is settled.
    /// - Returns: true when all of them were written; false when one was refused.
    func saved(_ ticket: Ticket) async -> Bool {
        if let saved = state.withLock({ $0.settled >= ticket.through ? $0.wasSaved(ticket) : nil }) { return saved }
        return await withCheckedContinuation { continuation in
            let saved = state.withLock { state -> Bool? in
                if state.settled >= ticket.through { return state.wasSaved(ticket) }
                state.waiters.append((ticket, continuation))
                return nil
            }
            if let saved { continuation.resume(returning: saved) }
        }
    }

    /// Ends a broken run: the service has reloaded what the store holds, and later steps are
    /// written again.
    func reset() {
        state.withLock { state in
            guard let broken = state.brokenSince else { return }
            state.refusals.append(broken...state.appended)
            if state.refusals.count > Self.rememberedRefusals {
                state.knownFrom = state.refusals.removeFirst().upperBound + 1
            }
            state.brokenSince = nil
            state.firstOfRun = state.appended + 1
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
                guard state.settled < state.appended else {
                    state.isWriting = false
                    return nil
                }
                defer { state.pending = [] }
                return (state.pending, state.appended)
            }
            guard let (changes, through) = next else { return }
            var failed = false
            do {
                try store.apply(changes)
            } catch {
                failed = true
                onFailure(error)
            }
            let ready = state.withLock { state in
                if failed {
                    state.brokenSince = state.settled + 1
                    state.pending = []
                    state.isWriting = false
                }
                state.settled = failed ? state.appended : through
                let ready = state.waiters.filter { $0.ticket.through <= state.settled }
                state.waiters.removeAll { $0.ticket.through <= state.settled }
                return ready.map { ($0.continuation, state.wasSaved($0.ticket)) }
            }
            for (continuation, saved) in ready { continuation.resume(returning: saved) }
            if failed { return }
        }
    }
}
