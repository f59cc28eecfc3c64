import PalisadeAuth
import PalisadeProtocol

/// One action on one resource, as an ``AccessPolicy`` names them (`Protocol/security.md`).
struct Permission: Sendable, Equatable, CustomStringConvertible {
    var action: String
    var resource: String

    var description: String { "\(action) on \(resource)" }

    /// `arn:aws:s3:::bucket`, or `arn:aws:s3:::bucket/key` (a key or a prefix).
    static func s3(_ action: String, bucket: String, key: String? = nil) -> Permission {
        Permission(action: action, resource: "arn:aws:s3:::" + bucket + (key.map { "/" + $0 } ?? ""))
    }

    /// `arn:palisade:lock:::name`.
    static func lock(_ action: String, _ name: LockName) -> Permission {
        Permission(action: action, resource: "arn:palisade:lock:::" + name.rawValue)
    }

    /// An action on no particular resource (its resource is `*`).
    static func service(_ action: String) -> Permission { Permission(action: action, resource: "*") }

    /// Whether `policy` allows this.
    func isAllowed(by policy: AccessPolicy) -> Bool { policy.allows(action, on: resource) }
}

extension Permission {
    /// The lock service's actions.
    enum Lock {
        static let grantLease = "palisade:GrantLease"
        /// Use, inspect, renew or revoke leases created by other keys.
        static let manageLeases = "palisade:ManageLeases"
        static let acquire = "palisade:AcquireLock"
        static let read = "palisade:ReadLock"
        static let forceRelease = "palisade:ForceReleaseLock"
        static let getFencing = "palisade:GetFencing"
        static let setFencing = "palisade:SetFencing"
    }
}
