public import PalisadeProtocol

/// Answers, during a commit, whether a token belongs to a lock's current live holder.
///
/// The lock engine implements it; the wiring injects it (the storage engine never imports the lock
/// engine). It is called inside the commit transaction, so it must answer at once without I/O.
public protocol FenceAuthority: Sendable {
    /// Whether `token` is held on `lock` by a lease that is alive right now.
    func isLiveHolder(_ lock: LockName, token: FencingToken) -> Bool
}
