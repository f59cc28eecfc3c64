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
}
