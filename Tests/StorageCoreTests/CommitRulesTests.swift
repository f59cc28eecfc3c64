import StorageCore
import Testing

func head(etag: String, sequence: UInt64, modifiedSeconds: Int64 = 1_000) -> ObjectHead {
    ObjectHead(
        bucket: "b",
        key: "k",
        versionID: "v\(sequence)",
        size: 1,
        etag: etag,
        lastModified: modifiedSeconds * 1000,
        commitSequence: sequence
    )
}

@Suite("Commit rules and preconditions")
struct CommitRulesTests {
    @Test("an unconditional write always commits, over any version or none (last writer wins)")
    func unconditional() {
        #expect(CommitRules.decide(WriteIntent(kind: .put), current: nil) == .accept)
        #expect(CommitRules.decide(WriteIntent(kind: .put), current: head(etag: "a", sequence: 7)) == .accept)
        #expect(CommitRules.decide(WriteIntent(kind: .delete), current: head(etag: "a", sequence: 7)) == .accept)
    }

    @Test(
        "write preconditions",
        arguments: [
            (WritePreconditions(ifNoneMatch: "*"), nil, true),
            (WritePreconditions(ifNoneMatch: "*"), "a", false),
            (WritePreconditions(ifMatch: "a"), "a", true),
            (WritePreconditions(ifMatch: "a"), "b", false),
            (WritePreconditions(ifMatch: "a"), nil, false),
            (WritePreconditions(ifMatch: "*"), "b", true),
            (WritePreconditions(ifMatch: "*"), nil, false),
            (WritePreconditions(ifNoneMatch: "a"), "a", false),
            (WritePreconditions(ifNoneMatch: "a"), "b", true),
            (WritePreconditions(ifNoneMatch: "a"), nil, true),
            (WritePreconditions(ifMatch: "*", ifNoneMatch: "a"), "b", true),
        ] as [(WritePreconditions, String?, Bool)]
    )
    func writePreconditions(preconditions: WritePreconditions, currentETag: String?, holds: Bool) {
        #expect(preconditions.hold(for: currentETag.map { head(etag: $0, sequence: 1) }) == holds)
    }

    @Test("a broken precondition is 412 when the object is as observed, 409 when a racing commit changed it")
    func conflictVersusFailure() {
        let ifMatch = WriteIntent(kind: .put, preconditions: .init(ifMatch: "a"), observedSequence: 1)
        #expect(CommitRules.decide(ifMatch, current: head(etag: "b", sequence: 1)) == .reject(.preconditionFailed))
        #expect(
            CommitRules.decide(ifMatch, current: head(etag: "b", sequence: 2)) == .reject(.conditionalRequestConflict)
        )
        let create = WriteIntent(kind: .put, preconditions: .init(ifNoneMatch: "*"), observedSequence: nil)
        #expect(
            CommitRules.decide(create, current: head(etag: "x", sequence: 3)) == .reject(.conditionalRequestConflict)
        )
        #expect(CommitRules.decide(create, current: nil) == .accept)
    }

    @Test("If-Match on an absent key is 404 NoSuchKey, unless a racing commit removed the key (409)")
    func ifMatchOnAnAbsentKey() {
        let neverThere = WriteIntent(kind: .delete, preconditions: .init(ifMatch: "*"), observedSequence: nil)
        #expect(WritePreconditions(ifMatch: "a").evaluate(nil) == .keyAbsent)
        #expect(CommitRules.decide(neverThere, current: nil) == .reject(.noSuchKey))
        let removedSince = WriteIntent(kind: .put, preconditions: .init(ifMatch: "a"), observedSequence: 4)
        #expect(CommitRules.decide(removedSince, current: nil) == .reject(.conditionalRequestConflict))
    }

    @Test(
        "read preconditions follow RFC 9110's order",
        arguments: [
            (ReadPreconditions(ifMatch: "\"a\""), ReadPreconditions.Outcome.proceed),
            (ReadPreconditions(ifMatch: "\"b\", \"a\""), .proceed),
            (ReadPreconditions(ifMatch: "\"b\""), .preconditionFailed),
            (ReadPreconditions(ifNoneMatch: "\"a\""), .notModified),
            (ReadPreconditions(ifNoneMatch: "W/\"a\""), .notModified),
            (ReadPreconditions(ifNoneMatch: "*"), .notModified),
            (ReadPreconditions(ifNoneMatch: "\"b\""), .proceed),
            (ReadPreconditions(ifModifiedSince: 1_000), .notModified),
            (ReadPreconditions(ifModifiedSince: 999), .proceed),
            (ReadPreconditions(ifUnmodifiedSince: 999), .preconditionFailed),
            (ReadPreconditions(ifUnmodifiedSince: 1_000), .proceed),
            // If-Match wins over If-Unmodified-Since; If-None-Match wins over If-Modified-Since.
            (ReadPreconditions(ifMatch: "\"a\"", ifUnmodifiedSince: 999), .proceed),
            (ReadPreconditions(ifNoneMatch: "\"b\"", ifModifiedSince: 1_000), .proceed),
        ] as [(ReadPreconditions, ReadPreconditions.Outcome)]
    )
    func readPreconditions(conditions: ReadPreconditions, outcome: ReadPreconditions.Outcome) {
        #expect(conditions.evaluate(head(etag: "a", sequence: 1)) == outcome)
    }
}
