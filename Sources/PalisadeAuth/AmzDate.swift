public import Foundation

/// The `yyyyMMdd'T'HHmmss'Z'` timestamps of SigV4 (`x-amz-date`), in UTC.
public struct AmzDate: Sendable, Equatable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Int64

    /// The timestamp of `date`, truncated to the second.
    public init(_ date: Date) { secondsSince1970 = Int64(date.timeIntervalSince1970.rounded(.down)) }

    /// Parses `20150830T123600Z`; nil for anything else.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15), (1...12).contains(month),
            (1...31).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        secondsSince1970 =
            Self.daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// The moment as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: TimeInterval(secondsSince1970)) }

    /// `20150830T123600Z`.
    public var timestamp: String { text(withTime: true) }

    /// `20150830`, the date part used in the credential scope.
    public var day: String { text(withTime: false) }

    /// The timestamp, or its date part, written digit by digit: every signed request formats one,
    /// and padding formatted integers cost far more than the signature's hashing. A year outside
    /// 0…9999 has more digits (and a sign when negative); no SigV4 peer accepts one.
    private func text(withTime: Bool) -> String {
        let days = secondsSince1970.floorDivided(by: 86_400)
        let (year, month, day) = Self.civilFromDays(days)
        let seconds = secondsSince1970 - days * 86_400
        return String(unsafeUninitializedCapacity: 48) { text in
            var count = 0
            func append(_ byte: UInt8) {
                text[count] = byte
                count += 1
            }
            func append(_ value: Int64, width: Int) {
                if value < 0 { append(UInt8(ascii: "-")) }
                var length = 1
                var rest = value.magnitude / 10
                while rest > 0 {
                    length += 1
                    rest /= 10
                }
                length = max(length, width)
                var magnitude = value.magnitude
                for position in (count..<count + length).reversed() {
                    text[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                    magnitude /= 10
                }
                count += length
            }
            append(year, width: 4)
            append(month, width: 2)
            append(day, width: 2)
            if withTime {
                append(UInt8(ascii: "T"))
                append(seconds / 3600, width: 2)
                append(seconds / 60 % 60, width: 2)
                append(seconds % 60, width: 2)
                append(UInt8(ascii: "Z"))
            }
            return count
        }
    }

    // Howard Hinnant's days-from-civil algorithms.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
