public import PalisadeProtocol
import Synchronization

/// Who is inside a critical section, and the tokens in the order the sections began: a test's
/// check of mutual exclusion and token order.
public final class CriticalSectionLog: Sendable {
    private struct State {
        var inside = 0
        var overlaps = 0
        public var tokens: [FencingToken] = []
    }

    private let state = Mutex(State())

    public init() {}

    public func enter(_ token: FencingToken) {
        state.withLock {
            if $0.inside != 0 { $0.overlaps += 1 }
            $0.inside += 1
            $0.tokens.append(token)
        }
    }

    public func leave() { state.withLock { $0.inside -= 1 } }

    public var overlaps: Int { state.withLock { $0.overlaps } }
    public var tokens: [FencingToken] { state.withLock { $0.tokens } }
}
