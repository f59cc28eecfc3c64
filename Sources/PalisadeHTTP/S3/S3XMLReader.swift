/// A strict reader of the XML that S3 request bodies are (DeleteObjects, CompleteMultipartUpload,
/// CreateBucketConfiguration): UTF-8 elements, attributes (read past), character data with the
/// five predefined entities, character references and CDATA, comments and processing
/// instructions (skipped). A DOCTYPE is refused, so no entity is ever defined or expanded.
///
/// Foundation's XMLParser on Linux crashed on bodies Fuzz/S3XMLFuzzer found (an element name
/// that is not UTF-8, a processing instruction without data); this reader works on bytes,
/// allocates nothing per byte, and refuses what it does not understand.
struct S3XMLReader {
    private let bytes: [UInt8]
    private var position = 0
    /// Deeper nesting than any S3 body has is refused.
    static let maximumDepth = 32

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The root element of `bytes`, or nil when they are not a well-formed document.
    static func parse(_ bytes: [UInt8]) -> S3XML.ParsedElement? {
        guard String(validating: bytes, as: UTF8.self) != nil else { return nil }
        var reader = S3XMLReader(bytes)
        return reader.document()
    }

    private mutating func document() -> S3XML.ParsedElement? {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        guard skipMisc(), let root = element(depth: 1), skipMisc(), position == bytes.count else { return nil }
        return root
    }

    /// Skips white space, comments and processing instructions; false on a malformed one or a DOCTYPE.
    private mutating func skipMisc() -> Bool {
        while true {
            skipSpace()
            if starts(with: "<?") {
                guard skip(past: "?>") else { return false }
            } else if starts(with: "<!--") {
                guard skip(past: "-->") else { return false }
            } else {
                return !starts(with: "<!")
            }
        }
    }

    /// An element at `position` (which holds `<`), with everything inside it.
    private mutating func element(depth: Int) -> S3XML.ParsedElement? {
        guard depth <= Self.maximumDepth, consume("<"), let name = name() else { return nil }
        let element = S3XML.ParsedElement(name: Self.localName(name))
        guard attributes() else { return nil }
        if consume("/>") { return element }
        guard consume(">") else { return nil }
        while position < bytes.count {
            if starts(with: "</") {
                position += 2
                guard self.name() == name else { return nil }
                skipSpace()
                return consume(">") ? element : nil
            } else if starts(with: "<!--") {
                guard skip(past: "-->") else { return nil }
            } else if starts(with: "<![CDATA[") {
                position += 9
                let start = position
                guard skip(past: "]]>") else { return nil }
                element.text += String(decoding: bytes[start..<(position - 3)], as: UTF8.self)
            } else if starts(with: "<?") {
                guard skip(past: "?>") else { return nil }
            } else if starts(with: "<") {
                guard let child = self.element(depth: depth + 1) else { return nil }
                element.children.append(child)
            } else {
                guard let text = characterData() else { return nil }
                element.text += text
            }
        }
        return nil
    }

    /// Reads `name="value"` pairs up to `>` or `/>`; their values are not kept.
    private mutating func attributes() -> Bool {
        while true {
            let hadSpace = skipSpace()
            if starts(with: ">") || starts(with: "/>") { return true }
            guard hadSpace, name() != nil else { return false }
            skipSpace()
            guard consume("=") else { return false }
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'")
            else { return false }
            let quote = bytes[position]
            position += 1
            guard let end = bytes[position...].firstIndex(of: quote), !bytes[position..<end].contains(UInt8(ascii: "<"))
            else { return false }
            position = end + 1
        }
    }

    /// Character data up to the next `<`, with references resolved; nil on a bad reference.
    private mutating func characterData() -> String? {
        var text: [UInt8] = []
        while position < bytes.count, bytes[position] != UInt8(ascii: "<") {
            guard bytes[position] == UInt8(ascii: "&") else {
                text.append(bytes[position])
                position += 1
                continue
            }
            guard let semicolon = bytes[position...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else { return nil }
            let reference = String(decoding: bytes[(position + 1)..<semicolon], as: UTF8.self)
            position = semicolon + 1
            guard let scalar = Self.resolve(reference) else { return nil }
            text += Array(String(Character(scalar)).utf8)
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The character an entity or character reference stands for, if XML allows it.
    static func resolve(_ reference: String) -> Unicode.Scalar? {
        switch reference {
        case "lt": return "<"
        case "gt": return ">"
        case "amp": return "&"
        case "quot": return "\""
        case "apos": return "'"
        default:
            let value: UInt32? =
                reference.hasPrefix("#x")
                ? UInt32(reference.dropFirst(2), radix: 16)
                : reference.hasPrefix("#") ? UInt32(reference.dropFirst(), radix: 10) : nil
            guard let value, let scalar = Unicode.Scalar(value),
                value >= 0x20 || value == 0x9 || value == 0xA || value == 0xD, value != 0xFFFE, value != 0xFFFF
            else { return nil }
            return scalar
        }
    }

    /// A name: up to white space, `/`, `>`, `=` or the end; nil when empty or containing markup.
    private mutating func name() -> String? {
        let start = position
        while position < bytes.count, !Self.endsName(bytes[position]) { position += 1 }
        guard position > start else { return nil }
        let name = bytes[start..<position]
        guard !name.contains(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: "&") }) else { return nil }
        return String(decoding: name, as: UTF8.self)
    }

    private static func endsName(_ byte: UInt8) -> Bool {
        isSpace(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "=")
            || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
    }

    /// `Key` for `s3:Key`: S3 bodies are read by local name, whatever prefix their namespace has.
    private static func localName(_ name: String) -> String {
        name.split(separator: ":", maxSplits: 1).last.map(String.init) ?? name
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x9 || byte == 0xA || byte == 0xD }

    @discardableResult
    private mutating func skipSpace() -> Bool {
        let start = position
        while position < bytes.count, Self.isSpace(bytes[position]) { position += 1 }
        return position > start
    }

    private func starts(with text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count - position >= count else { return false }
        return text.withUTF8Buffer { bytes[position..<(position + count)].elementsEqual($0) }
    }

    private mutating func consume(_ text: StaticString) -> Bool {
        guard starts(with: text) else { return false }
        position += text.utf8CodeUnitCount
        return true
    }

    /// Moves past the next `text`; false when it does not come.
    private mutating func skip(past text: StaticString) -> Bool {
        while position < bytes.count {
            if consume(text) { return true }
            position += 1
        }
        return false
    }
}
