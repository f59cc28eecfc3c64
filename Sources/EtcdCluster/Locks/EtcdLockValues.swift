import Foundation
import PalisadeProtocol

/// The JSON values of cluster mode's lock keys (`Protocol/cluster.md`).
enum EtcdLockValues {
    /// `ls/LEASE`.
    struct Lease: Codable, Equatable {
        var owner: String
        var ttlMs: Int64
        /// Set just before a revoke, so that watchers tell a revoke from an expiry.
        var revoking: Bool?

        enum CodingKeys: String, CodingKey {
            case owner
            case ttlMs = "ttl_ms"
            case revoking
        }
    }

    /// `lk/LOCK/h/LEASE` and `lh/LEASE/LOCK`.
    struct Holding: Codable, Equatable {
        var mode: LockMode
    }

    /// `lk/LOCK/q/LEASE`.
    struct Waiter: Codable, Equatable {
        var mode: LockMode
        var ticket: String
        /// Set when the lease gave up the wait (a release without a token), just before the key goes.
        var cancelled: Bool?
    }

    /// `lk/LOCK/d`.
    struct Delay: Codable, Equatable {
        var untilMs: Int64
        /// `forceReleased` or `leaseExpired`: what the unclean release was.
        var reason: String

        enum CodingKeys: String, CodingKey {
            case untilMs = "until_ms"
            case reason
        }
    }

    /// `lr/LEASE/LOCK`.
    struct Release: Codable, Equatable {
        var token: UInt64
    }

    /// Decodes a value; nil for one this server cannot read (treated as absent).
    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) -> T? {
        try? JSONDecoder().decode(type, from: data)
    }
}
