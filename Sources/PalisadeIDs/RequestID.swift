import Synchronization

/// Request ids: unique, cheap, and telling nothing of how many requests the server has seen.
///
/// 32 lowercase hex digits: 16 drawn at random once per process (``RandomUUID``), then a counter
/// of the process's requests hashed by SipHash under the process's random hashing key (Swift's
/// `Hasher`). An id needs no fresh randomness of its own, and libuuid's cost a tenth of a lock
/// session call; a plain counter would have told a client the server's request rate.
public enum RequestID {
    private static let processPart = String(RandomUUID.hex().prefix(16))
    private static let issued = Atomic<UInt64>(0)

    /// A new request id.
    public static func next() -> String {
        let count = issued.add(1, ordering: .relaxed).newValue
        var hasher = Hasher()
        hasher.combine(count)
        let hashed = UInt64(bitPattern: Int64(hasher.finalize()))
        let hexDigits: StaticString = "0123456789abcdef"
        var id = processPart
        id += String(unsafeUninitializedCapacity: 16) { digits in
            for index in 0..<16 {
                digits[index] = hexDigits.utf8Start[Int(hashed >> (60 - 4 * UInt64(index)) & 0xf)]
            }
            return 16
        }
        return id
    }
}
