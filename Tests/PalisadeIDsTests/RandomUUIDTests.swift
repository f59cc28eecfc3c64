import PalisadeIDs
import Testing

@Suite("RandomUUID: version 4 ids as 32 hex digits")
struct RandomUUIDTests {
    @Test("an id is 32 lowercase hex digits with the version 4 and RFC 4122 variant bits set")
    func format() {
        for _ in 0..<1000 {
            let id = Array(RandomUUID.hex())
            #expect(id.count == 32)
            #expect(id.allSatisfy { "0123456789abcdef".contains($0) })
            #expect(id[12] == "4")
            #expect("89ab".contains(id[16]))
        }
    }

    @Test("ids do not repeat, and every free digit position takes varying values")
    func randomness() {
        let ids = (0..<10_000).map { _ in RandomUUID.hex() }
        #expect(Set(ids).count == ids.count)
        for position in 0..<32 where position != 12 {
            let seen = Set(ids.map { Array($0)[position] })
            #expect(seen.count >= (position == 16 ? 4 : 16), "position \(position)")
        }
    }

    @Test("ids it made are well formed; anything else a client could send back is not")
    func wellFormed() {
        #expect((0..<100).allSatisfy { _ in RandomUUID.isWellFormed(hex: RandomUUID.hex()) })
        #expect(RandomUUID.isWellFormed(hex: "0123456789ABCDEF0123456789abcdef"))
        for bad in [
            "", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
            "0123456789abcdeg0123456789abcdef", "01234567-89ab-cdef-0123-456789abcdef",
            "0123456789abcdef012345678\u{0}abcdef",
            "../../../../etc/passwd/aaaaaaaaa", "0123456789abcdef0123456789abcdé",
        ] {
            #expect(!RandomUUID.isWellFormed(hex: bad), "\(bad)")
        }
    }
}

@Suite("RequestID: unique ids without a random draw each")
struct RequestIDTests {
    @Test("ids are 32 lowercase hex digits that do not repeat; the hashed half varies in every position")
    func uniqueness() {
        let ids = (0..<50_000).map { _ in RequestID.next() }
        #expect(ids.allSatisfy { $0.utf8.count == 32 && $0.allSatisfy { "0123456789abcdef".contains($0) } })
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids.map { $0.prefix(16) }).count == 1, "one process part per process")
        for position in 16..<32 {
            #expect(Set(ids.map { Array($0)[position] }).count == 16, "position \(position)")
        }
    }

    @Test("ids made at once on many threads do not repeat")
    func concurrentUniqueness() async {
        let batches = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 { group.addTask { (0..<5_000).map { _ in RequestID.next() } } }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(batches).count == 40_000)
    }
}
