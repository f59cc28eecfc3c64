public import PalisadeProtocol

/// A write's claim to hold a lock: the `x-palisade-lock` and `x-palisade-fencing-token` headers.
public struct FenceClaim: Sendable, Equatable, Codable {
    public var lock: LockName
    public var token: FencingToken

    public init(lock: LockName, token: FencingToken) {
        self.lock = lock
        self.token = token
    }
}

/// A fenced path: a whole bucket, or a bucket and a key prefix. Writes there must carry a token.
public struct FencedPath: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var bucket: String
    /// Empty for the whole bucket.
    public var prefix: String

    public init(bucket: String, prefix: String = "") {
        self.bucket = bucket
        self.prefix = prefix
    }

    /// Parses `bucket` or `bucket/prefix`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bucket = parts.first, !bucket.isEmpty else { return nil }
        self.init(bucket: String(bucket), prefix: parts.count > 1 ? String(parts[1]) : "")
    }

    /// Whether a write to `key` of `bucket` falls under this path.
    public func contains(bucket: String, key: String) -> Bool {
        self.bucket == bucket && key.hasPrefix(prefix)
    }

    public var description: String { prefix.isEmpty ? bucket : "\(bucket)/\(prefix)" }

    public static func < (lhs: FencedPath, rhs: FencedPath) -> Bool { lhs.description < rhs.description }
}

/// The fencing rules of DESIGN §2, with no I/O.
public enum FenceRules {
    /// Whether the lock `name` covers `key` of `bucket`: the name is `bucket/key`, or `bucket/` and
    /// a prefix of the key that ends with `/`, or `bucket`.
    public static func covers(lock: LockName, bucket: String, key: String) -> Bool {
        let name = lock.rawValue
        if name == bucket || name == "\(bucket)/\(key)" { return true }
        let bucketPrefix = bucket + "/"
        guard name.hasPrefix(bucketPrefix), name.hasSuffix("/") else { return false }
        return key.hasPrefix(String(name.dropFirst(bucketPrefix.count)))
    }
}

/// What the commit point knows about fencing for one key: the write's claim, whether the path is
/// fenced, the highest token recorded for the claimed lock, and what the lock service says of it.
public struct FenceCheck: Sendable, Equatable {
    public var claim: FenceClaim?
    public var pathIsFenced: Bool
    /// The highest token recorded for the claim's lock (nil: none yet).
    public var highestToken: FencingToken?
    /// Whether the claim's token belongs to the lock's live holder; nil where no lock service runs
    /// in the deployment (then only the token order is checked).
    public var claimIsLiveHolder: Bool?

    public init(claim: FenceClaim?, pathIsFenced: Bool, highestToken: FencingToken?, claimIsLiveHolder: Bool?) {
        self.claim = claim
        self.pathIsFenced = pathIsFenced
        self.highestToken = highestToken
        self.claimIsLiveHolder = claimIsLiveHolder
    }

    /// No claim on an unfenced path: nothing to check.
    public static let unfenced = FenceCheck(claim: nil, pathIsFenced: false, highestToken: nil, claimIsLiveHolder: nil)
}
