/// A fencing token: strictly increasing over all grants of all locks of one deployment,
/// including across restarts and crashes of the server.
///
/// A storage write that carries a token lower than the highest token recorded for its lock is
/// rejected, which is what stops a paused former holder from overwriting the next holder's data.
public struct FencingToken: RawRepresentable, Hashable, Comparable, Sendable, Codable {
    /// The token's value; `0` is never issued.
    public var rawValue: UInt64

    /// Creates a token from its value.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Creates a token from its value.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: FencingToken, rhs: FencingToken) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Decodes a token; `0`, never issued, is refused.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(UInt64.self)
        guard rawValue > 0 else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "fencing tokens start at 1")
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension FencingToken: LosslessStringConvertible {
    /// Parses the decimal form used in the `x-palisade-fencing-token` header.
    public init?(_ description: String) {
        guard let value = UInt64(description), value > 0 else { return nil }
        self.rawValue = value
    }

    public var description: String { String(rawValue) }
}
