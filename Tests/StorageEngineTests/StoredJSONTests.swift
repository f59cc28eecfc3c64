import Foundation
import PalisadeProtocol
import StorageCore
import Testing

@testable import StorageEngine

@Suite("Stored JSON of object rows")
struct StoredJSONTests {
    /// Text that JSON must escape or that UTF-8 spells in several bytes.
    static let awkward = [
        "", "plain", "quote\"backslash\\slash/", "line\nfeed\r\ttab\u{8}\u{C}", "\u{0}\u{1}\u{1F}",
        "é and e\u{301}", "🦀 \u{1F468}\u{200D}\u{1F469}", "\u{2028}\u{2029}", "\u{FFFF}\u{10FFFF}", "{\"}:[,]",
    ]

    static func randomText(_ generator: inout some RandomNumberGenerator) -> String {
        if Bool.random(using: &generator) { return awkward.randomElement(using: &generator)! }
        let scalars = (0..<Int.random(in: 0..<12, using: &generator)).map { _ in
            let pools: [ClosedRange<UInt32>] = [
                0...0x7F, 0x80...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF,
            ]
            return Unicode.Scalar(UInt32.random(in: pools.randomElement(using: &generator)!, using: &generator))!
        }
        return String(String.UnicodeScalarView(scalars))
    }

    @Test("maps of any strings: written and read back, read from Foundation's encoding, and readable by Foundation")
    func maps() throws {
        var generator = SystemRandomNumberGenerator()
        let sorted = JSONEncoder()
        sorted.outputFormatting = .sortedKeys
        for round in 0..<300 {
            let map = Dictionary(
                (0..<(round % 6)).map { _ in (Self.randomText(&generator), Self.randomText(&generator)) },
                uniquingKeysWith: { first, _ in first }
            )
            let written = StoredJSON.object(map)
            #expect(StoredJSON.parseObject(written) == map, "\(written)")
            #expect(try JSONDecoder().decode([String: String].self, from: Data(written.utf8)) == map)
            for encoder in [JSONEncoder(), sorted] {
                let foundation = String(decoding: try encoder.encode(map), as: UTF8.self)
                #expect(StoredJSON.parseObject(foundation) == map, "\(foundation)")
            }
        }
        #expect(StoredJSON.object(["b": "2", "a": "1"]) == #"{"a":"1","b":"2"}"#)
        #expect(StoredJSON.parseObject(" { \"a\" : \"\\u00e9\\ud83e\\udd80\" } ") == ["a": "é🦀"])
    }

    @Test("segments, with and without ETags and at any size, round-trip the same ways")
    func segments() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<200 {
            let segments = (0..<(round % 5)).map { index in
                ObjectHead.Segment(
                    blobID: Self.randomText(&generator),
                    size: [0, 1, 4096, Int64.max, Int64.random(in: 0...Int64.max, using: &generator)][index],
                    etag: Bool.random(using: &generator) ? Self.randomText(&generator) : nil
                )
            }
            let written = StoredJSON.segments(segments)
            #expect(StoredJSON.parseSegments(written) == segments, "\(written)")
            #expect(try JSONDecoder().decode([ObjectHead.Segment].self, from: Data(written.utf8)) == segments)
            let foundation = String(decoding: try JSONEncoder().encode(segments), as: UTF8.self)
            #expect(StoredJSON.parseSegments(foundation) == segments, "\(foundation)")
        }
        #expect(StoredJSON.parseSegments(#"[{"etag":null,"size":7,"blobID":"b"}]"#) == [.init(blobID: "b", size: 7)])
    }

    @Test("anything else is not guessed at: the reader gives up, and the row falls back to Foundation's decoder")
    func otherShapes() {
        for text in [
            "", "{", "{\"a\":\"b\"", "{\"a\":1}", "{\"a\":\"b\"} x", "[\"a\"]", "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"raw\ncontrol\"}", "{\"a\":\"\\u12g4\"}", "{a:\"b\"}",
        ] {
            #expect(StoredJSON.parseObject(text) == nil, "\(text)")
        }
        for text in [
            "[{\"blobID\":\"b\"}]", "[{\"blobID\":\"b\",\"size\":01}]",
            "[{\"blobID\":\"b\",\"size\":99999999999999999999}]",
            "[{\"blobID\":\"b\",\"size\":1.5}]", "[{\"blobID\":\"b\",\"size\":5,\"future\":true}]", "[{}", "{}",
        ] {
            #expect(StoredJSON.parseSegments(text) == nil, "\(text)")
        }
        for invalidUTF8: [UInt8] in [
            [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x22, 0x22, 0x7D], Array(#"{"a":"\n"#.utf8) + [0xC3],
        ] {
            #expect(invalidUTF8.withUnsafeBufferPointer { JSONReader.read($0) { $0.flatObject() } } == nil)
        }
        // A field a later version might add: Foundation's decoder reads past it.
        #expect(
            SQLiteRows.segments(#"[{"blobID":"b","size":5,"future":true}]"#) == [.init(blobID: "b", size: 5)]
        )
        #expect(SQLiteRows.dictionary("not json") == [:])
    }
}
