import PalisadeProtocol
import Testing

@Suite("LockName: which names are valid")
struct LockNameTests {
    @Test("a name is refused for exactly the characters Unicode calls control characters, at every code point")
    func controlCharacters() {
        // Every scalar of the Basic Multilingual Plane and the first supplementary one.
        for value in UInt32(0)...0x1FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let isControl = scalar.properties.generalCategory == .control
            let name = "a" + String(Character(scalar)) + "b"
            #expect((LockName(rawValue: name) == nil) == isControl, "U+\(String(value, radix: 16))")
        }
    }

    @Test("empty and over-long names are refused with a reason; the longest valid name is accepted")
    func lengths() {
        #expect(LockName.validationFailure("") != nil)
        #expect(LockName.validationFailure(String(repeating: "é", count: LockName.maximumLength / 2)) == nil)
        #expect(LockName.validationFailure(String(repeating: "x", count: LockName.maximumLength + 1)) != nil)
    }
}
