// The paused-writer story, end to end: A takes the lock and pauses past its lease's TTL; B takes
// the lock and writes; A wakes up and writes with its old token: the gateway refuses it, and the
// object keeps B's data. Run: swift run paused-writer-example (PALISADE_* set as `palisade serve`
// prints them).
import Foundation
import NIOCore
import PalisadeClient
import PalisadeProtocol

let locks = LockClient(configuration: .fromEnvironment(ProcessInfo.processInfo.environment))
let store = ObjectClient(endpoints: locks.configuration.endpoints, credentials: locks.configuration.credentials)
let bucket = "paused-writer-example"
let key = "report.txt"
let lockName = LockName(rawValue: "\(bucket)/\(key)")!
try await store.createBucket(bucket)

// A takes the lock under a 1 s lease and then "pauses": it stops renewing (a GC pause, swap...).
let leaseA = try await locks.grantLease(ttl: .seconds(1))
let grantA = try await locks.acquire(lockName, lease: leaseA.leaseID, wait: .zero)
print("A holds \(lockName) with fencing token \(grantA.token), then pauses")
try await Task.sleep(for: .milliseconds(2_300))  // past A's TTL and the 1 s lock-delay

// B takes the lock (a higher token) and writes.
try await store.withLock(lockName, ttl: .seconds(5), wait: .seconds(10)) { lock in
    _ = try await store.put(bucket: bucket, key: key, body: ByteBuffer(string: "written by B"), fencedBy: lock)
    print("B holds \(lockName) with fencing token \(lock.token) and writes")
}

// A wakes up, still believing it holds the lock, and writes with its old token.
do {
    _ = try await store.put(
        bucket: bucket,
        key: key,
        body: ByteBuffer(string: "written by A"),
        headers: [(PalisadeHeaders.lock, lockName.rawValue), (PalisadeHeaders.fencingToken, grantA.token.description)]
    )
    print("A's write was accepted: this must not happen")
    exit(1)
} catch let error as ObjectClientError {
    print("A wakes up and writes with token \(grantA.token): refused, \(error.code)")
}
let content = String(buffer: try await store.get(bucket: bucket, key: key))
print("the object holds: \(content)")
exit(content == "written by B" ? 0 : 1)
