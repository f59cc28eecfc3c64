import Testing

@testable import StorageEngine

@Suite("VersionReaders: when a replaced version's blobs may be unlinked")
struct VersionReadersTests {
    @Test("a retain with no retirement since the mark needs no second look-up")
    func retainWithoutRetirement() {
        let readers = VersionReaders()
        let mark = readers.retirementMark()
        #expect(readers.retain("v1", unlessRetiredSince: mark))
        #expect(readers.release("v1").isEmpty)
    }

    @Test("a retirement between the mark and the retain asks the reader to check the version again")
    func retirementSinceMark() {
        let readers = VersionReaders()
        let mark = readers.retirementMark()
        #expect(readers.retireWhenUnread("v1", blobs: ["b1"]))
        #expect(!readers.retain("v1", unlessRetiredSince: mark))
        #expect(readers.retain("v2", unlessRetiredSince: readers.retirementMark()))
    }

    @Test("a version retired while read keeps its blobs until its last reader closes")
    func retiredWhileRead() {
        let readers = VersionReaders()
        let mark = readers.retirementMark()
        #expect(readers.retain("v1", unlessRetiredSince: mark))
        #expect(readers.retain("v1", unlessRetiredSince: mark))
        #expect(!readers.retireWhenUnread("v1", blobs: ["b1", "b2"]))
        #expect(readers.release("v1").isEmpty)
        #expect(readers.release("v1") == ["b1", "b2"])
    }
}
