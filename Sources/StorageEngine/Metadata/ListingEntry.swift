/// One entry of a listing page with a delimiter: an object directly under the prefix, or a common
/// prefix that stands for every key under it.
public enum ListingEntry: Sendable, Equatable {
    case object(ListedObject)
    case commonPrefix(String)

    /// The key or common prefix: where the next page starts.
    public var position: String {
        switch self {
        case .object(let object): object.key
        case .commonPrefix(let prefix): prefix
        }
    }

    /// The entry `object` makes in a listing of `prefix` with `delimiter`: the common prefix its
    /// key rolls up into, or the object itself.
    init(_ object: ListedObject, under prefix: String, delimiter: String) {
        self =
            Self.commonPrefix(of: object.key, under: prefix, delimiter: delimiter).map(ListingEntry.commonPrefix)
            ?? .object(object)
    }

    /// The common prefix `key` (which starts with `prefix`) rolls up into: up to and including the
    /// first `delimiter` after the prefix; nil when there is none. Matched as UTF-8 bytes, as S3
    /// does (no Unicode equivalence), which also lands on whole characters.
    static func commonPrefix(of key: String, under prefix: String, delimiter: String) -> String? {
        let bytes = Array(key.utf8)
        let needle = Array(delimiter.utf8)
        guard !needle.isEmpty, bytes.count >= prefix.utf8.count + needle.count else { return nil }
        for start in prefix.utf8.count...(bytes.count - needle.count)
        where bytes[start] == needle[0] && bytes[start..<start + needle.count].elementsEqual(needle) {
            return String(decoding: bytes[..<(start + needle.count)], as: UTF8.self)
        }
        return nil
    }
}

extension MetadataStore {
    /// Walks the keys in batches: a batch that is mostly keys rolled up into one common prefix is
    /// cut short, and the next batch is smaller and starts past that prefix (one seek). So a page
    /// reads a bounded number of keys per entry it returns, however many keys each prefix holds.
    public func delimitedEntries(
        bucket: String,
        prefix: String,
        delimiter: String,
        from start: ListingStart,
        limit: Int
    ) async throws -> [ListingEntry] {
        var entries: [ListingEntry] = []
        var start = start
        var batchSize = limit
        while true {
            let batch = try await objects(bucket: bucket, prefix: prefix, from: start, limit: batchSize)
            var rolledUp: String?
            let entriesBefore = entries.count
            for object in batch {
                if let rolledUp, object.key.utf8.starts(with: rolledUp.utf8) { continue }
                if entries.count == limit { return entries }
                let entry = ListingEntry(object, under: prefix, delimiter: delimiter)
                entries.append(entry)
                switch entry {
                case .commonPrefix(let common):
                    rolledUp = common
                    start = .pastPrefix(common)
                case .object:
                    start = .after(object.key)
                }
            }
            if batch.count < batchSize { return entries }
            let found = entries.count - entriesBefore
            batchSize = min(limit, found * 4 < batch.count ? max(16, batchSize / 4) : batchSize * 2)
        }
    }
}
