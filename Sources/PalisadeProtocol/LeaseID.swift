/// The identifier of a lease: 32 lowercase hex digits of a random (version 4) UUID, so it cannot
/// be guessed from another lease's id.
public struct LeaseID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The identifier as sent on the wire.
    public let rawValue: String

    /// Accepts 32 lowercase hex digits; anything else is not a lease id.
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 32,
            rawValue.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        self.rawValue = rawValue
    }

    public static func < (lhs: LeaseID, rhs: LeaseID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = LeaseID(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "a lease id is 32 lowercase hex digits"
            )
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
