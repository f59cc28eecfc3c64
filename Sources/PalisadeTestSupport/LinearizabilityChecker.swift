/// One operation on a register (one object key) as a client saw it: what it did, what it got, and
/// when it was called and answered (nanoseconds on one monotonic clock).
public struct RegisterOperation: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A write that took effect.
        case put(String)
        /// A read and the value it returned (nil: the key was absent).
        case get(String?)
        /// A delete that took effect.
        case delete
    }

    public var kind: Kind
    public var call: UInt64
    public var answer: UInt64

    public init(kind: Kind, call: UInt64, answer: UInt64) {
        self.kind = kind
        self.call = call
        self.answer = answer
    }
}

/// Checks that a concurrent history of register operations is linearizable: that some total order
/// of the operations, consistent with real time (an operation answered before another was called
/// comes first), explains every read. Wing & Gong's search with Lowe's memoization of
/// (linearized set, state) pairs. Writes that were refused took no effect and are left out.
public enum LinearizabilityChecker {
    /// Whether `history` is linearizable for a register that starts with `initial`.
    public static func isLinearizable(_ history: [RegisterOperation], initial: String? = nil) -> Bool {
        // Events: each operation's call and answer, in time order (calls before answers at equal times).
        struct Event {
            let operation: Int
            let isCall: Bool
            let time: UInt64
        }
        let events = history.enumerated().flatMap { index, operation in
            [
                Event(operation: index, isCall: true, time: operation.call),
                Event(operation: index, isCall: false, time: operation.answer),
            ]
        }.sorted { ($0.time, $0.isCall ? 0 : 1) < ($1.time, $1.isCall ? 0 : 1) }
        // A doubly linked list over the events, with a head sentinel at index 0.
        let count = events.count
        var next = Array(1...(count + 1))
        var previous = Array(-1..<count)
        next[count] = count + 1
        var callIndex = [Int](repeating: 0, count: history.count)
        var answerIndex = [Int](repeating: 0, count: history.count)
        for (position, event) in events.enumerated() {
            if event.isCall {
                callIndex[event.operation] = position + 1
            } else {
                answerIndex[event.operation] = position + 1
            }
        }
        func unlink(_ node: Int) {
            next[previous[node]] = next[node]
            if next[node] <= count { previous[next[node]] = previous[node] }
        }
        func relink(_ node: Int) {
            next[previous[node]] = node
            if next[node] <= count { previous[next[node]] = node }
        }

        var linearized = [UInt64](repeating: 0, count: (history.count + 63) / 64)
        var seen = Set<Snapshot>()
        var stack: [(operation: Int, state: String?)] = []
        var state = initial
        var cursor = next[0]
        while next[0] <= count {
            guard cursor <= count else { return false }
            let event = events[cursor - 1]
            if event.isCall {
                let operation = event.operation
                var newState = state
                var explained = true
                switch history[operation].kind {
                case .put(let value): newState = value
                case .delete: newState = nil
                case .get(let value): explained = value == state
                }
                linearized[operation / 64] |= 1 << UInt64(operation % 64)
                if explained, seen.insert(Snapshot(linearized: linearized, state: newState)).inserted {
                    stack.append((operation, state))
                    state = newState
                    unlink(callIndex[operation])
                    unlink(answerIndex[operation])
                    cursor = next[0]
                } else {
                    linearized[operation / 64] &= ~(1 << UInt64(operation % 64))
                    cursor = next[cursor]
                }
            } else {
                // An operation answered before every order tried so far could explain it: backtrack.
                guard let (operation, previousState) = stack.popLast() else { return false }
                state = previousState
                linearized[operation / 64] &= ~(1 << UInt64(operation % 64))
                relink(answerIndex[operation])
                relink(callIndex[operation])
                cursor = next[callIndex[operation]]
            }
        }
        return true
    }

    private struct Snapshot: Hashable {
        let linearized: [UInt64]
        let state: String?
    }
}
