import PalisadeTestSupport
import Testing

@Suite("The linearizability checker itself")
struct LinearizabilityCheckerTests {
    typealias Op = RegisterOperation

    @Test("sequential histories: reads must see the last write")
    func sequential() {
        #expect(
            LinearizabilityChecker.isLinearizable([
                Op(kind: .put("a"), call: 0, answer: 1), Op(kind: .get("a"), call: 2, answer: 3),
            ])
        )
        #expect(
            !LinearizabilityChecker.isLinearizable([
                Op(kind: .put("a"), call: 0, answer: 1), Op(kind: .get(nil), call: 2, answer: 3),
            ])
        )
        #expect(
            LinearizabilityChecker.isLinearizable([
                Op(kind: .put("a"), call: 0, answer: 1), Op(kind: .delete, call: 2, answer: 3),
                Op(kind: .get(nil), call: 4, answer: 5),
            ])
        )
    }

    @Test("overlapping operations may be ordered either way, but not against real time")
    func concurrent() {
        // A read overlapping a write may see the old or the new value.
        let overlapping = [
            Op(kind: .put("a"), call: 0, answer: 10), Op(kind: .get(nil), call: 1, answer: 2),
            Op(kind: .get("a"), call: 3, answer: 4),
        ]
        #expect(LinearizabilityChecker.isLinearizable(overlapping))
        // But once a read saw the new value, a later read cannot see the old one.
        let flapping = overlapping + [Op(kind: .get(nil), call: 5, answer: 6)]
        #expect(!LinearizabilityChecker.isLinearizable(flapping))
        // Two overlapping writes: a later read may see either, and all later reads agree.
        let writes = [Op(kind: .put("a"), call: 0, answer: 5), Op(kind: .put("b"), call: 1, answer: 6)]
        #expect(
            LinearizabilityChecker.isLinearizable(
                writes + [Op(kind: .get("a"), call: 7, answer: 8), Op(kind: .get("a"), call: 9, answer: 10)]
            )
        )
        #expect(
            !LinearizabilityChecker.isLinearizable(
                writes + [Op(kind: .get("a"), call: 7, answer: 8), Op(kind: .get("b"), call: 9, answer: 10)]
            )
        )
        // A value nobody wrote is never linearizable.
        #expect(!LinearizabilityChecker.isLinearizable(writes + [Op(kind: .get("c"), call: 7, answer: 8)]))
    }
}
