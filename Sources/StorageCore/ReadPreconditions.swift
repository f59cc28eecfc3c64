import Foundation

/// The conditional-read headers of GetObject and HeadObject, evaluated as S3 does (RFC 9110 order).
public struct ReadPreconditions: Sendable, Equatable {
    public var ifMatch: String?
    public var ifNoneMatch: String?
    /// Seconds since 1970.
    public var ifModifiedSince: Int64?
    public var ifUnmodifiedSince: Int64?

    public init(
        ifMatch: String? = nil,
        ifNoneMatch: String? = nil,
        ifModifiedSince: Int64? = nil,
        ifUnmodifiedSince: Int64? = nil
    ) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
    }

    /// What a read of `head` answers under these conditions.
    public enum Outcome: Sendable, Equatable {
        case proceed
        /// 304 Not Modified.
        case notModified
        /// 412 Precondition Failed.
        case preconditionFailed
    }

    /// Evaluates the conditions against `head` (times compared at whole seconds, as HTTP dates are).
    public func evaluate(_ head: ObjectHead) -> Outcome {
        let modified = head.lastModified / 1000
        if let ifMatch {
            if !Self.matches(ifMatch, etag: head.etag) { return .preconditionFailed }
        } else if let ifUnmodifiedSince, modified > ifUnmodifiedSince {
            return .preconditionFailed
        }
        if let ifNoneMatch {
            if Self.matches(ifNoneMatch, etag: head.etag) { return .notModified }
        } else if let ifModifiedSince, modified <= ifModifiedSince {
            return .notModified
        }
        return .proceed
    }

    /// Whether an `If-Match`/`If-None-Match` list (`*`, or quoted or weak ETags, comma-separated) names `etag`.
    static func matches(_ list: String, etag: String) -> Bool {
        list.split(separator: ",").contains { item in
            var value = item.trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("W/") { value.removeFirst(2) }
            return value == "*" || value.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) == etag
        }
    }
}
