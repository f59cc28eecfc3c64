/// Where a page of a listing starts, in UTF-8 binary key order.
public enum ListingStart: Sendable, Equatable {
    /// At the first key after this one.
    case after(String)
    /// Past every key that starts with this prefix (a common prefix already listed): one index
    /// seek, however many keys it holds.
    case pastPrefix(String)

    /// This start, or nil when a listing of `prefix` begins later: at the prefix's first key.
    func clamped(to prefix: String) -> ListingStart? {
        // Past a prefix is its bytes and 0xFF, which no UTF-8 key holds: after all its keys.
        let start: [UInt8] =
            switch self {
            case .after(let key): Array(key.utf8)
            case .pastPrefix(let rolledUp): Array(rolledUp.utf8) + [0xFF]
            }
        return start.lexicographicallyPrecedes(prefix.utf8) ? nil : self
    }
}
