public import LockEngine
public import StorageEngine

/// The lock service answers the gateway's fencing question (the wiring's job: neither engine
/// imports the other).
extension LiveGrants: FenceAuthority {}
