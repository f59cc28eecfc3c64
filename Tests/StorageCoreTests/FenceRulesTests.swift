import PalisadeProtocol
import StorageCore
import Testing

/// A claim of lock `b` with `token`.
private func claim(_ token: UInt64) -> FenceClaim {
    FenceClaim(lock: LockName(rawValue: "b")!, token: FencingToken(token))
}

@Suite("Fencing rules")
struct FenceRulesTests {
    @Test(
        "which lock names cover a key",
        arguments: [
            ("bucket/dir/key", true), ("bucket/dir/", true), ("bucket/", true), ("bucket", true),
            ("bucket/dir", false), ("bucket/di/", false), ("bucket/other/", false), ("other", false),
            ("bucket/dir/key/", false), ("buck", false),
        ]
    )
    func coverage(lock: String, covers: Bool) {
        #expect(FenceRules.covers(lock: LockName(rawValue: lock)!, bucket: "bucket", key: "dir/key") == covers)
    }

    @Test("fenced paths: a whole bucket or a prefix")
    func fencedPaths() {
        #expect(FencedPath("orders")?.contains(bucket: "orders", key: "anything") == true)
        #expect(FencedPath("orders/2026/")?.contains(bucket: "orders", key: "2026/42") == true)
        #expect(FencedPath("orders/2026/")?.contains(bucket: "orders", key: "2025/1") == false)
        #expect(FencedPath("")?.description == nil)
    }

    @Test(
        "the fence is checked before preconditions, token order first, then the live holder",
        arguments: [
            (
                FenceCheck(claim: nil, pathIsFenced: true, highestToken: nil, claimIsLiveHolder: nil),
                CommitRejection?.some(.fencingTokenRequired)
            ),
            (FenceCheck(claim: nil, pathIsFenced: false, highestToken: FencingToken(9), claimIsLiveHolder: nil), nil),
            (
                FenceCheck(
                    claim: claim(5),
                    pathIsFenced: false,
                    highestToken: FencingToken(6),
                    claimIsLiveHolder: true
                ), .staleFencingToken(presented: FencingToken(5), highest: FencingToken(6))
            ),
            (
                FenceCheck(
                    claim: claim(6),
                    pathIsFenced: true,
                    highestToken: FencingToken(6),
                    claimIsLiveHolder: true
                ), nil
            ),
            (
                FenceCheck(
                    claim: claim(7),
                    pathIsFenced: true,
                    highestToken: FencingToken(6),
                    claimIsLiveHolder: false
                ), .lockNotHeld
            ),
            (
                FenceCheck(
                    claim: claim(7),
                    pathIsFenced: true,
                    highestToken: nil,
                    claimIsLiveHolder: nil
                ), nil
            ),
        ] as [(FenceCheck, CommitRejection?)]
    )
    func decisions(fence: FenceCheck, rejection: CommitRejection?) {
        #expect(CommitRules.fenceRejection(fence) == rejection)
        let conditional = WriteIntent(
            kind: .put,
            preconditions: .init(ifNoneMatch: "*"),
            observedSequence: 1,
            fence: fence.claim
        )
        let existing = ObjectHead(
            bucket: "b",
            key: "k",
            versionID: "v",
            size: 0,
            etag: "e",
            lastModified: 0,
            commitSequence: 1
        )
        let decision = CommitRules.decide(conditional, current: existing, fence: fence)
        #expect(decision == .reject(rejection ?? .preconditionFailed))
    }
}
