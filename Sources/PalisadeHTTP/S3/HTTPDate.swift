import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The dates of S3 responses: RFC 1123 in headers, ISO 8601 in XML.
enum HTTPDate {
    /// `Wed, 21 Oct 2015 07:28:00 GMT` for milliseconds since 1970.
    static func rfc1123(milliseconds: Int64) -> String {
        format(milliseconds / 1000, "%a, %d %b %Y %H:%M:%S GMT")
    }

    /// `2015-10-21T07:28:00.000Z` for milliseconds since 1970.
    static func iso8601(milliseconds: Int64) -> String {
        format(milliseconds / 1000, "%Y-%m-%dT%H:%M:%S") + String(format: ".%03dZ", Int(milliseconds % 1000))
    }

    /// Seconds since 1970 of an RFC 1123 date (the form HTTP clients send), or nil.
    static func parse(_ text: String) -> Int64? {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[5] == "GMT", let day = Int32(fields[1]),
            let month = months.firstIndex(of: String(fields[2])), let year = Int32(fields[3])
        else { return nil }
        let clock = fields[4].split(separator: ":").compactMap { Int32($0) }
        guard clock.count == 3 else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = Int32(month)
        parts.tm_mday = day
        parts.tm_hour = clock[0]
        parts.tm_min = clock[1]
        parts.tm_sec = clock[2]
        return Int64(timegm(&parts))
    }

    private static func format(_ seconds: Int64, _ pattern: String) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
