/// What the store accepts as an object key: 1 to 1024 bytes of UTF-8 (S3's limits) without NUL,
/// so that no key can alias another where a system truncates at NUL.
public enum ObjectKeyRules {
    /// Why a key is refused.
    public enum Problem: Sendable, Equatable {
        case empty
        case tooLong
        case containsNUL
    }

    /// The longest key, in bytes of UTF-8.
    public static let maximumBytes = 1024

    /// Why `key` cannot name an object, or nil when it can.
    public static func problem(with key: String) -> Problem? {
        let bytes = key.utf8
        if bytes.isEmpty { return .empty }
        if bytes.count > maximumBytes { return .tooLong }
        if bytes.contains(0) { return .containsNUL }
        return nil
    }
}
