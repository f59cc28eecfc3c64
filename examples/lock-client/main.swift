// Takes a lock, shows its fencing token and the headers that carry it to the storage gateway,
// and releases it. Run: swift run lock-client-example (with PALISADE_ENDPOINT, PALISADE_ACCESS_KEY
// and PALISADE_SECRET_KEY set, as `palisade serve` prints them).
import Foundation
import PalisadeClient

let client = LockClient(configuration: .fromEnvironment(ProcessInfo.processInfo.environment))

let token = try await client.withLock("reports/2026-11", ttl: .seconds(10), wait: .seconds(30)) { lock in
    print("holding '\(lock.name)' with fencing token \(lock.token)")
    for header in lock.fencingHeaders {
        print("  send with every write: \(header.name): \(header.value)")
    }
    // Do the work here. If the lease is lost, this task is cancelled.
    return lock.token
}
print("released 'reports/2026-11' (token \(token))")
