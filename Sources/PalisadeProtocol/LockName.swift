/// The name of a lock: 1 to 1024 bytes of UTF-8 with no control characters.
///
/// Names are opaque to the lock service. The storage gateway gives names of the form `bucket`,
/// `bucket/prefix/` and `bucket/key` a meaning: the lock covers those objects.
public struct LockName: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The longest name accepted, in UTF-8 bytes.
    public static let maximumLength = 1024

    /// The name as sent on the wire.
    public let rawValue: String

    /// Accepts a valid name, and returns nil for an empty, too long or control-character name.
    public init?(rawValue: String) {
        guard Self.validationFailure(rawValue) == nil else { return nil }
        self.rawValue = rawValue
    }

    /// Why `candidate` is not a valid lock name, or nil when it is one.
    public static func validationFailure(_ candidate: String) -> String? {
        let length = candidate.utf8.count
        if length == 0 { return "a lock name must not be empty" }
        if length > maximumLength { return "a lock name is at most \(maximumLength) bytes of UTF-8, not \(length)" }
        // Unicode's control characters (Cc) are exactly U+0000–U+001F and U+007F–U+009F, a set fixed
        // by its stability policy: compared by value, not by a property look-up per character.
        if candidate.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            return "a lock name must not contain control characters"
        }
        return nil
    }

    public static func < (lhs: LockName, rhs: LockName) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        if let failure = Self.validationFailure(text) {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: failure)
        }
        self.rawValue = text
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// How a lock is held: by one writer, or by any number of readers at once.
public enum LockMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// One holder; excludes every other holder.
    case exclusive
    /// Many holders at once; excluded by an exclusive holder.
    case shared
}

extension LockName: ExpressibleByStringLiteral {
    /// A name written in code; an invalid literal is a programming error and traps.
    public init(stringLiteral value: String) {
        guard let name = LockName(rawValue: value) else {
            preconditionFailure("invalid lock name literal '\(value)': \(LockName.validationFailure(value) ?? "")")
        }
        self = name
    }
}
