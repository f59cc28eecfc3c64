import CLibUUID

/// Random (version 4) UUIDs from libuuid, for lease, request, upload and version ids.
public enum RandomUUID {
    /// A new random UUID as 32 lowercase hex digits (no dashes).
    public static func hex() -> String {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        uuid_generate_random(&bytes)
        return withUnsafeBytes(of: &bytes) { raw in
            let digits = Array("0123456789abcdef".utf8)
            var text = [UInt8]()
            text.reserveCapacity(32)
            for byte in raw {
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0x0f)])
            }
            return String(decoding: text, as: UTF8.self)
        }
    }
}
