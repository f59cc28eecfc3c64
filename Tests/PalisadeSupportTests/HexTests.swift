import PalisadeSupport
import Testing

@Suite("Hex")
struct HexTests {
    @Test("every byte is two lowercase digits, high nibble first")
    func digits() {
        #expect(Hex.lowercase([]) == "")
        #expect(Hex.lowercase([0x00, 0x0f, 0xa0, 0xff, 0x5c]) == "000fa0ff5c")
        #expect(Hex.lowercase(0...255).count == 512)
    }
}
