import PalisadeSupport
import Testing

@Suite("Hex")
struct HexTests {
    @Test("every byte is two lowercase digits, high nibble first")
    func digits() {
        func hex(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes(Hex.lowercase) }
        #expect(hex([]) == "")
        #expect(hex([0x00, 0x0f, 0xa0, 0xff, 0x5c]) == "000fa0ff5c")
        let all = Array(UInt8.min...UInt8.max)
        #expect(hex(all) == all.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
    }
}
