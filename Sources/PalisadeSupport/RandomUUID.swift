/// Random (version 4) UUIDs from the system's random source, for lease, request, upload and version ids.
public enum RandomUUID {
    /// A new random UUID as 32 lowercase hex digits (no dashes).
    public static func hex() -> String {
        var generator = SystemRandomNumberGenerator()
        // Version 4 in the high nibble of byte 6, the RFC 4122 variant in the top bits of byte 8.
        let high = (generator.next() as UInt64) & ~0xF000 | 0x4000
        let low = (generator.next() as UInt64) & ~(0xC000 << 48) | (0x8000 << 48)
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 32) { text in
            for (index, word) in [high, low].enumerated() {
                for nibble in 0..<16 {
                    text[index * 16 + nibble] = digits[Int(truncatingIfNeeded: word >> (60 - 4 * UInt64(nibble))) & 0xF]
                }
            }
            return 32
        }
    }
}
