/// Lowercase hexadecimal text of bytes: digests, signatures and ETags.
public enum Hex {
    /// Two lowercase hex digits per byte, in order: `digest.withUnsafeBytes(Hex.lowercase)`.
    /// (Written straight into the string's storage; it runs several times for every request.)
    public static func lowercase(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { text in
            var index = 0
            for byte in bytes {
                text[index] = digit(byte >> 4)
                text[index + 1] = digit(byte & 0x0f)
                index += 2
            }
            return index
        }
    }

    private static func digit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
