import PalisadeProtocol
import StorageCore

/// The JSON of an object row's map columns (`content_headers`, `user_metadata`, `checksums`: an
/// object of strings) and of its `segments` (an array of flat objects), written and read without
/// Foundation's coders, which cost more than the rest of a small GET. The reader takes exactly the
/// shapes the writer makes — and anything else valid that Foundation's encoder wrote before it —
/// and answers nil for what it does not expect, so the caller can hand that to `JSONDecoder`.
enum StoredJSON {
    /// `{"name":"value",…}`, names in ascending order.
    static func object(_ value: [String: String]) -> String {
        guard !value.isEmpty else { return "{}" }
        var text = "{"
        for (index, (name, value)) in value.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { text += "," }
            text += LockSessionMessage.quoted(name)
            text += ":"
            text += LockSessionMessage.quoted(value)
        }
        return text + "}"
    }

    /// `[{"blobID":"…","size":N,"etag":"…"},…]`, with `etag` only when the segment has one.
    static func segments(_ segments: [ObjectHead.Segment]) -> String {
        var text = "["
        for (index, segment) in segments.enumerated() {
            if index > 0 { text += "," }
            text += "{\"blobID\":" + LockSessionMessage.quoted(segment.blobID) + ",\"size\":\(segment.size)"
            if let etag = segment.etag { text += ",\"etag\":" + LockSessionMessage.quoted(etag) }
            text += "}"
        }
        return text + "]"
    }

    /// The object of strings `text` holds, or nil when it holds anything else.
    static func parseObject(_ text: String) -> [String: String]? {
        JSONReader.read(text) { reader in reader.object { name, reader in reader.string().map { (name, $0) } } }
            .map { Dictionary($0, uniquingKeysWith: { _, last in last }) }
    }

    /// The segments `text` holds, or nil when it holds anything else.
    static func parseSegments(_ text: String) -> [ObjectHead.Segment]? {
        JSONReader.read(text) { reader in
            reader.array { reader -> ObjectHead.Segment? in
                var blobID: String?
                var size: Int64?
                var etag: String?
                let fields: [Void]? = reader.object { name, reader -> Void? in
                    switch name {
                    case "blobID":
                        guard let value = reader.string() else { return nil }
                        blobID = value
                    case "size":
                        guard let value = reader.integer() else { return nil }
                        size = value
                    case "etag":
                        switch reader.scalar() {
                        case .string(let value)?: etag = value
                        case .null?: etag = nil
                        default: return nil
                        }
                    default: return nil
                    }
                    return ()
                }
                guard fields != nil, let blobID, let size else { return nil }
                return ObjectHead.Segment(blobID: blobID, size: size, etag: etag)
            }
        }
    }

}
