/// A cursor over JSON text for the few shapes the hot paths read (a lock session's messages, an
/// object row's columns: flat objects, arrays of them, strings, integers), without Foundation's
/// coders; every method answers nil — and the caller gives up, usually handing the text to
/// `JSONDecoder` — on anything it does not expect, invalid UTF-8 included.
public struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    /// The position of the next byte to read.
    public private(set) var index = 0

    public init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Whether everything but trailing blanks has been read.
    public mutating func isAtEnd() -> Bool {
        skipSpace()
        return index == bytes.count
    }

    /// Reads `text` with `body`, which must take all of it.
    public static func read<Value>(_ text: String, _ body: (inout JSONReader) -> Value?) -> Value? {
        var text = text
        return text.withUTF8 { read($0, body) }
    }

    /// Reads `bytes` with `body`, which must take all of them.
    public static func read<Value>(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (inout JSONReader) -> Value?) -> Value?
    {
        var reader = JSONReader(bytes: bytes)
        guard let value = body(&reader), reader.isAtEnd() else { return nil }
        return value
    }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// A string, an integer, `true`, `false` or `null`.
    public mutating func scalar() -> JSONScalar? {
        skipSpace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "\""): return string().map(JSONScalar.string)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for (word, value) in [("true", JSONScalar.boolean(true)), ("false", .boolean(false)), ("null", .null)]
            where bytes[index...].starts(with: word.utf8) {
                index += word.utf8.count
                return value
            }
            return nil
        default: return integer().map(JSONScalar.integer)
        }
    }

    /// An object whose members are all scalars; nil when a name repeats, which readers do not
    /// agree on (`JSONDecoder` keeps the first value, many others the last): such a message is
    /// left to `JSONDecoder`, so that every path reads it alike.
    public mutating func flatObject() -> FlatJSONObject? {
        guard let members = object({ name, reader in reader.scalar().map { (name: name, value: $0) } }) else {
            return nil
        }
        for index in members.indices.dropFirst()
        where members[..<index].contains(where: { $0.name == members[index].name }) {
            return nil
        }
        return FlatJSONObject(members: members)
    }

    /// Takes `byte` (after blanks) when it comes next.
    public mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// `{ "name": value, … }`, each value read by `member`.
    public mutating func object<Member>(_ member: (String, inout JSONReader) -> Member?) -> [Member]? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var members: [Member] = []
        if take(UInt8(ascii: "}")) { return members }
        repeat {
            guard let name = string(), take(UInt8(ascii: ":")), let value = member(name, &self) else { return nil }
            members.append(value)
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}")) ? members : nil
    }

    /// `[ element, … ]`.
    public mutating func array<Element>(_ element: (inout JSONReader) -> Element?) -> [Element]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var elements: [Element] = []
        if take(UInt8(ascii: "]")) { return elements }
        repeat {
            guard let value = element(&self) else { return nil }
            elements.append(value)
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "]")) ? elements : nil
    }

    /// An integer that fits `Int64`, with no fraction or exponent.
    public mutating func integer() -> Int64? {
        skipSpace()
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let start = index
        var value: Int64 = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let (product, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow, product <= Int64.max - Int64(bytes[index] - UInt8(ascii: "0")) else { return nil }
            value = product + Int64(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        guard index > start, bytes[start] != UInt8(ascii: "0") || index == start + 1 else { return nil }
        return negative ? -value : value
    }

    /// A string, its escapes decoded.
    public mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        // Most strings have no escape: take their bytes as they are.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
            guard bytes[index] >= 0x20 else { return nil }
            index += 1
        }
        guard index < bytes.count else { return nil }
        guard var text = utf8Text(start..<index) else { return nil }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return text
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"):
                    text.unicodeScalars.append(Unicode.Scalar(escaped))
                case UInt8(ascii: "b"): text += "\u{8}"
                case UInt8(ascii: "f"): text += "\u{C}"
                case UInt8(ascii: "n"): text += "\n"
                case UInt8(ascii: "r"): text += "\r"
                case UInt8(ascii: "t"): text += "\t"
                case UInt8(ascii: "u"):
                    guard let scalar = escapedScalar() else { return nil }
                    text.unicodeScalars.append(scalar)
                default: return nil
                }
            default:
                guard byte >= 0x20 else { return nil }
                // The bytes up to the next quote or backslash, as they are.
                let run = index - 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"),
                    bytes[index] >= 0x20
                {
                    index += 1
                }
                guard let valid = utf8Text(run..<index) else { return nil }
                text += valid
            }
        }
        return nil
    }

    /// The text of `bytes[range]`; nil when it is not valid UTF-8. ASCII, the common case, is taken
    /// as it is (the generic validation costs several times the whole read).
    private func utf8Text(_ range: Range<Int>) -> String? {
        let run = UnsafeBufferPointer(rebasing: bytes[range])
        if !run.contains(where: { $0 >= 0x80 }) { return String(decoding: run, as: UTF8.self) }
        return String(validating: run, as: UTF8.self)
    }

    /// The scalar of `XXXX` after `\u` (a surrogate pair takes the `\uXXXX` after it too).
    private mutating func escapedScalar() -> Unicode.Scalar? {
        guard let unit = hexUnit() else { return nil }
        guard (0xD800..<0xDC00).contains(unit) else { return Unicode.Scalar(unit) }
        guard bytes[index...].starts(with: "\\u".utf8) else { return nil }
        index += 2
        guard let low = hexUnit(), (0xDC00..<0xE000).contains(low) else { return nil }
        return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
    }

    private mutating func hexUnit() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var unit: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            unit = unit << 4 | UInt32(digit)
        }
        index += 4
        return unit
    }
}

/// The members of a flat JSON object, each name once, in the order read. Looked up by a linear
/// search: the hot paths' messages have a handful of members, too few for hashing names to pay.
public struct FlatJSONObject: Sendable {
    public let members: [(name: String, value: JSONScalar)]

    /// The value of the member `name`, nil when there is none.
    public subscript(name: String) -> JSONScalar? { members.first { $0.name == name }?.value }
}

/// A member of a flat JSON object.
public enum JSONScalar: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case boolean(Bool)
    case null
}
