import Foundation

/// What one access key may do: the IAM policy subset that AWS and MinIO users already write.
///
/// A policy is `{"Version": "2012-10-17", "Statement": [...]}`; each statement has `Effect`
/// (`Allow` or `Deny`), `Action` and `Resource` (a string or a list; `*` matches any run of
/// characters, `?` one). A request is allowed when some `Allow` statement matches its action and
/// resource and no `Deny` statement does. Anything else in a statement (`Condition`, `NotAction`,
/// `Principal`, …) is refused when the policy is read, so no rule is silently ignored.
/// Actions are compared without regard to case, resources exactly. `Protocol/security.md` lists
/// the actions and resource names.
public struct AccessPolicy: Sendable, Equatable {
    struct Statement: Sendable, Equatable {
        var allows: Bool
        var actions: [String]
        var resources: [String]
    }

    var statements: [Statement]

    /// Everything allowed: the administrator's policy.
    public static let administrator = AccessPolicy(statements: [.init(allows: true, actions: ["*"], resources: ["*"])])

    init(statements: [Statement]) { self.statements = statements }

    /// Reads a policy document.
    /// - Throws: ``AccessPolicyError`` naming what is wrong.
    public init(json object: Any) throws(AccessPolicyError) {
        guard let document = object as? [String: Any], let list = document["Statement"] else {
            throw AccessPolicyError("a policy is an object with a Statement list")
        }
        if let version = document["Version"], version as? String != "2012-10-17" {
            throw AccessPolicyError("the policy Version must be \"2012-10-17\"")
        }
        let entries = (list as? [Any]) ?? [list]
        var statements: [Statement] = []
        for case let (index, entry) in entries.enumerated() {
            guard let statement = entry as? [String: Any] else {
                throw AccessPolicyError("statement \(index + 1) is not an object")
            }
            if let unknown = statement.keys.sorted().first(where: {
                !["Sid", "Effect", "Action", "Resource"].contains($0)
            }) {
                throw AccessPolicyError("statement \(index + 1): \(unknown) is not supported")
            }
            guard let effect = statement["Effect"] as? String, effect == "Allow" || effect == "Deny" else {
                throw AccessPolicyError("statement \(index + 1): Effect is Allow or Deny")
            }
            func strings(_ key: String) throws(AccessPolicyError) -> [String] {
                if let one = statement[key] as? String { return [one] }
                guard let many = statement[key] as? [String], !many.isEmpty else {
                    throw AccessPolicyError("statement \(index + 1): \(key) is a string or a list of strings")
                }
                return many
            }
            statements.append(
                Statement(
                    allows: effect == "Allow",
                    actions: try strings("Action").map { $0.lowercased() },
                    resources: try strings("Resource")
                )
            )
        }
        self.statements = statements
    }

    /// Whether `action` (such as `s3:GetObject`) on `resource` (such as `arn:aws:s3:::bucket/key`) is allowed.
    public func allows(_ action: String, on resource: String) -> Bool {
        let action = action.lowercased()
        var allowed = false
        for statement in statements
        where statement.actions.contains(where: { Self.matches(action, $0) })
            && statement.resources.contains(where: { Self.matches(resource, $0) })
        {
            guard statement.allows else { return false }
            allowed = true
        }
        return allowed
    }

    /// Whether `text` matches `pattern`, where `*` matches any run of characters and `?` one.
    static func matches(_ text: String, _ pattern: String) -> Bool {
        let text = Array(text.utf8)
        let pattern = Array(pattern.utf8)
        var (t, p) = (0, 0)
        var star: (pattern: Int, text: Int)?
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                t += 1
                p += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = (p, t)
                p += 1
            } else if let last = star {
                p = last.pattern + 1
                t = last.text + 1
                star = (last.pattern, last.text + 1)
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

/// Why a policy or a users file was not accepted.
public struct AccessPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
