import Foundation
import Synchronization

/// The access keys the server accepts, each with its secret and its ``AccessPolicy``; replaced
/// as a whole when the users file is read again (on SIGHUP), while requests go on.
public final class UserDirectory: Sendable {
    /// One access key.
    public struct User: Sendable, Equatable {
        public var credentials: SigV4Credentials
        public var policy: AccessPolicy

        public init(credentials: SigV4Credentials, policy: AccessPolicy) {
            self.credentials = credentials
            self.policy = policy
        }
    }

    private let users: Mutex<[String: User]>

    /// A directory of `users`; for a repeated access key, the first entry counts.
    public init(_ users: [User]) {
        self.users = Mutex(Self.index(users))
    }

    /// A directory whose every key is an administrator.
    public convenience init(administrators: [SigV4Credentials]) {
        self.init(administrators.map { User(credentials: $0, policy: .administrator) })
    }

    /// The secret of `accessKeyID`, or nil when the key is unknown.
    public func secret(of accessKeyID: String) -> String? {
        users.withLock { $0[accessKeyID]?.credentials.secretAccessKey }
    }

    /// The policy of `accessKeyID`; an unknown key may do nothing.
    public func policy(of accessKeyID: String) -> AccessPolicy {
        users.withLock { $0[accessKeyID]?.policy } ?? AccessPolicy(statements: [])
    }

    /// Replaces every user at once.
    public func replace(with users: [User]) {
        let index = Self.index(users)
        self.users.withLock { $0 = index }
    }

    private static func index(_ users: [User]) -> [String: User] {
        Dictionary(users.map { ($0.credentials.accessKeyID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Reads a users file: `{"users": [{"access_key", "secret_key", "policy": {…}}, …]}`.
    /// - Throws: ``AccessPolicyError`` naming the entry and what is wrong with it.
    public static func users(fromFile path: String) throws(AccessPolicyError) -> [User] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AccessPolicyError("cannot read the users file \(path)")
        }
        guard let document = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let entries = document["users"] as? [[String: Any]]
        else { throw AccessPolicyError("the users file is an object with a \"users\" list of objects") }
        var users: [User] = []
        for (index, entry) in entries.enumerated() {
            guard let accessKey = entry["access_key"] as? String, !accessKey.isEmpty,
                let secret = entry["secret_key"] as? String, !secret.isEmpty
            else { throw AccessPolicyError("user \(index + 1) needs access_key and secret_key") }
            guard let policy = entry["policy"] else {
                throw AccessPolicyError("user \(accessKey) needs a policy")
            }
            do {
                users.append(
                    User(
                        credentials: SigV4Credentials(accessKeyID: accessKey, secretAccessKey: secret),
                        policy: try AccessPolicy(json: policy)
                    )
                )
            } catch {
                throw AccessPolicyError("user \(accessKey): \(error)")
            }
        }
        return users
    }
}
