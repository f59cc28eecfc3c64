import PalisadeSupport
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
        return processPart + withUnsafeBytes(of: hashed.bigEndian, Hex.lowercase)
    }
}
