public import Crypto
public import Foundation
import PalisadeSupport

/// AWS Signature Version 4: the canonical forms and the key derivation, with no I/O.
///
/// The canonical URI is the request path exactly as sent (already percent-encoded), as S3 uses it;
/// Palisade's own paths contain nothing that needs encoding, so signers for other AWS services
/// (which encode the path twice) produce the same string.
public enum SigV4 {
    /// The only algorithm accepted.
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The payload hash that marks an unsigned body.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty string.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The canonical request that is hashed into the string to sign.
    /// - Parameters:
    ///   - path: the path as sent, percent-encoded; empty means `/`.
    ///   - query: the raw query string without `?`.
    ///   - headers: every request header (names in any case; repeated names allowed).
    ///   - signedHeaders: the lowercase names to include, in `SignedHeaders` order.
    ///   - payloadHash: hex SHA-256 of the body, or a marker such as `UNSIGNED-PAYLOAD`.
    public static func canonicalRequest(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        signedHeaders: [String],
        payloadHash: String
    ) -> String {
        // Built in one string: this runs for every signed request.
        var text = ""
        text.reserveCapacity(method.utf8.count + path.utf8.count + 2 * query.utf8.count + 512)
        text += method
        text += "\n"
        text += path.isEmpty ? "/" : path
        text += "\n"
        text += canonicalQuery(query)
        text += "\n"
        for name in signedHeaders {
            text += name
            text += ":"
            var first = true
            for header in headers where isNamed(header.name, name) {
                if !first { text += "," }
                first = false
                text += collapseSpaces(header.value)
            }
            text += "\n"
        }
        text += "\n"
        for (index, name) in signedHeaders.enumerated() {
            if index > 0 { text += ";" }
            text += name
        }
        text += "\n"
        text += payloadHash
        return text
    }

    /// The query with each name and value percent-decoded, re-encoded the AWS way and sorted.
    public static func canonicalQuery(_ raw: String) -> String {
        guard !raw.isEmpty else { return "" }
        let pairs = rawQueryItems(raw).map { item in
            (uriEncode(percentDecode(String(item.name))), item.value.map { uriEncode(percentDecode(String($0))) } ?? "")
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(
            separator: "&"
        )
    }

    /// The `name=value` items of a raw query string in order, still percent-encoded; the value is
    /// nil for an item without `=`. Empty items are skipped.
    public static func rawQueryItems(_ raw: String) -> [(name: Substring, value: Substring?)] {
        raw.utf8.split(separator: UInt8(ascii: "&")).map { item in
            guard let equals = item.firstIndex(of: UInt8(ascii: "=")) else { return (Substring(item), nil) }
            return (Substring(item[..<equals]), Substring(item[item.index(after: equals)...]))
        }
    }

    /// The string to sign: algorithm, timestamp, scope and the hash of the canonical request.
    public static func stringToSign(canonicalRequest: String, timestamp: String, scope: String) -> String {
        var canonical = canonicalRequest
        let digest = canonical.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return algorithm + "\n" + timestamp + "\n" + scope + "\n" + digest.withUnsafeBytes(Hex.lowercase)
    }

    /// The key derived from the secret for one day, region and service.
    public static func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// The hex HMAC-SHA256 signature of `stringToSign`.
    public static func signature(stringToSign: String, key: SymmetricKey) -> String {
        signature(stringToSign: stringToSign, keyedMAC: HMAC(key: key))
    }

    /// The hex signature of `stringToSign` by `keyedMAC`, an HMAC-SHA256 keyed with the signing key
    /// and not yet used (keying it hashes two blocks: a verifier keeps one per key).
    static func signature(stringToSign: String, keyedMAC: HMAC<SHA256>) -> String {
        var mac = keyedMAC
        var text = stringToSign
        text.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().withUnsafeBytes(Hex.lowercase)
    }

    /// Lowercase hex SHA-256 of `data`.
    public static func hexSHA256(_ data: some DataProtocol) -> String {
        SHA256.hash(data: data).withUnsafeBytes(Hex.lowercase)
    }

    /// Percent-encodes everything but the unreserved characters `A–Z a–z 0–9 - _ . ~`
    /// (and `/` when `keepSlash`), with uppercase hex digits. Text with nothing to encode is
    /// returned as it is.
    public static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        func isKept(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                true
            case UInt8(ascii: "/"): keepSlash
            default: false
            }
        }
        guard text.utf8.contains(where: { !isKept($0) }) else { return text }
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count * 3)
        for byte in text.utf8 {
            if isKept(byte) {
                bytes.append(byte)
            } else {
                bytes.append(UInt8(ascii: "%"))
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0x0f)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes `%XX` escapes (a `+` stays a `+`); malformed escapes are kept as they are, and bytes
    /// that are not UTF-8 become U+FFFD.
    public static func percentDecode(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        return String(decoding: percentDecodedBytes(text), as: UTF8.self)
    }

    /// Decodes `%XX` escapes as ``percentDecode(_:)`` does, or nil when the bytes they make are not
    /// UTF-8: for names (bucket and object keys) that must arrive exactly as they were sent.
    public static func percentDecodeExactly(_ text: String) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        return String(validating: percentDecodedBytes(text), as: UTF8.self)
    }

    private static func percentDecodedBytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return bytes
    }

    /// The value trimmed, with each run of spaces and tabs inside it turned into one space; the
    /// value itself when there is nothing to trim or collapse (as header values usually are).
    static func collapseSpaces(_ value: String) -> String {
        var previousIsSpace = true
        let isCanonical = value.utf8.allSatisfy { byte in
            defer { previousIsSpace = byte == UInt8(ascii: " ") }
            return byte != UInt8(ascii: "\t") && !(previousIsSpace && byte == UInt8(ascii: " "))
        }
        if isCanonical && !previousIsSpace || value.isEmpty { return value }
        var bytes: [UInt8] = []
        var pendingSpace = false
        for byte in trimmingSpaces(value.utf8) {
            if isSpace(byte) {
                pendingSpace = true
            } else {
                if pendingSpace { bytes.append(UInt8(ascii: " ")) }
                pendingSpace = false
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `bytes` without their leading and trailing spaces and tabs (what SigV4 calls trimming; far
    /// cheaper than Foundation's `trimmingCharacters(in:)`, which every signed request would pay).
    static func trimmingSpaces<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Bytes.SubSequence {
        let start = bytes.firstIndex { !isSpace($0) } ?? bytes.endIndex
        let end = bytes.lastIndex { !isSpace($0) }.map(bytes.index(after:)) ?? start
        return bytes[start..<max(start, end)]
    }

    /// Whether `byte` is a space or a tab, the blanks SigV4 trims and collapses.
    static func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// The value of the first of `headers` named `name` (lowercase), whatever the case it was sent in.
    static func value(of name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { isNamed($0.name, name) }?.value
    }

    /// Whether the header name `name`, in any case, is `lowercaseName` (compared as ASCII, with no copy).
    static func isNamed(_ name: String, _ lowercaseName: String) -> Bool {
        name.utf8.elementsEqual(lowercaseName.utf8, by: isSameLetter)
    }

    /// Whether the header name `name`, in any case, starts with `lowercasePrefix`.
    static func isNamed(_ name: String, startingWith lowercasePrefix: String) -> Bool {
        name.utf8.starts(with: lowercasePrefix.utf8, by: isSameLetter)
    }

    /// Whether the byte `sent` is `lowercase`, in either ASCII case.
    private static func isSameLetter(_ sent: UInt8, _ lowercase: UInt8) -> Bool {
        sent == lowercase || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(sent) && sent | 0x20 == lowercase
    }

    /// `name` in lowercase; the string itself, without a copy, when it has no uppercase letter
    /// (header names usually arrive lowercase).
    static func lowercasedASCII(_ name: String) -> String {
        name.utf8.contains { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) } ? name.lowercased() : name
    }
}
