import LockEngine
import PalisadeAuth
import PalisadeProtocol

/// Checks lock API calls against the caller's policy: the action on the lock (or service), and
/// that a lease the call uses belongs to the caller unless it may manage others' leases.
struct LockAuthorizer: Sendable {
    let users: UserDirectory
    let locks: any LockBackend

    /// Refuses unless the caller's policy allows every one of `permissions`.
    func require(_ permissions: Permission..., for context: PalisadeRequestContext) throws(LockAPIError) {
        let policy = users.policy(of: context.accessKeyID)
        if let denied = permissions.first(where: { !$0.isAllowed(by: policy) }) {
            throw Self.denied("\(context.accessKeyID) may not \(denied)")
        }
    }

    /// Refuses unless `lease` belongs to the caller or the caller may manage leases. A lease that
    /// does not exist passes: the call itself then answers `LeaseNotFound`.
    func requireOwnership(of lease: LeaseID, for context: PalisadeRequestContext) async throws(LockAPIError) {
        let policy = users.policy(of: context.accessKeyID)
        if Permission.service(Permission.Lock.manageLeases).isAllowed(by: policy) { return }
        if let owner = await locks.lease(lease)?.owner, owner != context.accessKeyID {
            throw Self.denied("lease \(lease) belongs to another access key")
        }
    }

    static func denied(_ message: String) -> LockAPIError {
        LockAPIError(.forbidden, LockAPIErrorCode.accessDenied, message)
    }
}
