import Foundation

/// MIME encoded-words (RFC 2047) in `x-amz-meta-*` values, as S3 handles them: a value made of
/// `=?UTF-8?B?…?=` or `=?UTF-8?Q?…?=` words is stored decoded, and a stored value that is not
/// US-ASCII is returned as one `=?UTF-8?B?…?=` word, so it survives HTTP headers and clients
/// (boto3) that accept only ASCII metadata.
enum RFC2047 {
    /// `value` with its UTF-8 encoded-words decoded (words separated only by white space are
    /// joined, as the RFC says); a value that is not made of such words is returned as it is.
    static func decode(_ value: String) -> String {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard !words.isEmpty else { return value }
        var decoded = Data()
        for word in words {
            let parts = word.split(separator: "?", omittingEmptySubsequences: false)
            guard parts.count == 5, parts[0] == "=", parts[4] == "=", parts[1].uppercased() == "UTF-8",
                let bytes = decodeText(parts[3], encoding: parts[2].uppercased())
            else { return value }
            decoded.append(bytes)
        }
        return String(data: decoded, encoding: .utf8) ?? value
    }

    /// `value` as it leaves in a header: as it is when US-ASCII, else one base64 encoded-word.
    static func encode(_ value: String) -> String {
        guard value.utf8.allSatisfy({ $0 < 0x80 }) else {
            return "=?UTF-8?B?\(Data(value.utf8).base64EncodedString())?="
        }
        return value
    }

    private static func decodeText(_ text: Substring, encoding: String) -> Data? {
        switch encoding {
        case "B": return Data(base64Encoded: String(text))
        case "Q":
            var bytes: [UInt8] = []
            var index = text.utf8.startIndex
            let utf8 = text.utf8
            while index != utf8.endIndex {
                let byte = utf8[index]
                if byte == UInt8(ascii: "_") {
                    bytes.append(UInt8(ascii: " "))
                } else if byte == UInt8(ascii: "=") {
                    let high = utf8.index(after: index)
                    guard high != utf8.endIndex, utf8.index(after: high) != utf8.endIndex,
                        let value = UInt8(String(text[high...utf8.index(after: high)]), radix: 16)
                    else { return nil }
                    bytes.append(value)
                    index = utf8.index(after: high)
                } else {
                    bytes.append(byte)
                }
                index = utf8.index(after: index)
            }
            return Data(bytes)
        default: return nil
        }
    }
}
