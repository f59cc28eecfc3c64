public import LockEngine
import PalisadeProtocol
public import StorageEngine

/// The lock service answers the gateway's fencing question (the wiring's job: neither engine
/// imports the other).
extension LiveGrants: FenceAuthority {
    public func isLiveHolder(lock: String, token: UInt64) -> Bool {
        guard let name = LockName(rawValue: lock) else { return false }
        return isLiveHolder(name, token: FencingToken(token))
    }
}
