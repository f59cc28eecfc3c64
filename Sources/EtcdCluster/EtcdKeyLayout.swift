import Foundation
import PalisadeProtocol
import StorageCore

/// Where cluster mode keeps each piece of state in etcd, under one prefix (`Protocol/cluster.md`).
///
/// Keys are bytes compared as bytes, so a range of object keys lists in UTF-8 binary order, as S3
/// lists. Bucket names hold no `/` and object keys no NUL, which makes both safe separators.
public struct EtcdKeyLayout: Sendable {
    /// The prefix of every key, ending with `/`.
    public let prefix: String

    public init(prefix: String = "palisade/") {
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// `b/BUCKET`: a bucket, with its creation time.
    func bucket(_ name: String) -> Data { key("b/\(name)") }
    var buckets: Data { key("b/") }

    /// `o/BUCKET/KEY`: an object's current version; its mod revision is its commit sequence.
    func object(_ bucket: String, _ key: String) -> Data { self.key("o/\(bucket)/\(key)") }
    func objects(_ bucket: String) -> Data { key("o/\(bucket)/") }
    var allObjects: Data { key("o/") }

    /// `u/UPLOAD`: a multipart upload in progress.
    func upload(_ id: String) -> Data { key("u/\(id)") }
    /// `ui/BUCKET/KEY NUL INITIATED NUL UPLOAD`: the uploads of a bucket in ListMultipartUploads order.
    func uploadIndex(_ upload: MultipartUpload) -> Data {
        key("ui/\(upload.bucket)/\(upload.key)\0\(Self.fixedHex(UInt64(bitPattern: upload.initiated)))\0\(upload.id)")
    }
    func uploadIndex(_ bucket: String) -> Data { key("ui/\(bucket)/") }

    /// `p/UPLOAD/NNNNN`: an uploaded part (the last upload of its number).
    func part(_ uploadID: String, _ number: Int) -> Data { key("p/\(uploadID)/\(Self.partNumber(number))") }
    func parts(_ uploadID: String) -> Data { key("p/\(uploadID)/") }
    var allParts: Data { key("p/") }

    /// `rb/BLOB`: a blob of a replaced or deleted version, and when it was retired; swept after a grace period.
    func retiredBlob(_ id: String) -> Data { key("rb/\(id)") }
    var retiredBlobs: Data { key("rb/") }

    /// `f/LOCK`: the highest fencing token an accepted write has recorded for the lock.
    func highestToken(_ lock: LockName) -> Data { key("f/\(lock.rawValue)") }

    /// `fp/BUCKET/PREFIX`: a fenced path.
    func fencedPath(_ path: FencedPath) -> Data { key("fp/\(path.bucket)/\(path.prefix)") }
    func fencedPaths(_ bucket: String) -> Data { key("fp/\(bucket)/") }
    var allFencedPaths: Data { key("fp/") }

    /// `wr/NAME`: the record of a named write (``WriteRecord``).
    func writeRecord(_ name: String) -> Data { key("wr/\(name)") }
    var writeRecords: Data { key("wr/") }

    // MARK: Locks

    /// `ls/LEASE`: a live lease (owner, TTL), attached to its etcd lease, so it ends with it.
    func lease(_ id: LeaseID) -> Data { key("ls/\(id.rawValue)") }
    /// `lh/LEASE/LOCK`: the locks a lease holds (attached to the lease).
    func leaseHoldings(_ id: LeaseID) -> Data { key("lh/\(id.rawValue)/") }
    func leaseHolding(_ id: LeaseID, _ lock: LockName) -> Data { key("lh/\(id.rawValue)/\(lock.rawValue)") }
    /// `lr/LEASE/LOCK`: the token a lease last released of a lock, so a retried release is answered.
    func leaseRelease(_ id: LeaseID, _ lock: LockName) -> Data { key("lr/\(id.rawValue)/\(lock.rawValue)") }
    /// `lo/OWNER/LEASE`: an owner's live leases (attached to each lease), counted for its limit.
    func ownerLeases(_ owner: String) -> Data { key("lo/\(owner)/") }
    func ownerLease(_ owner: String, _ id: LeaseID) -> Data { key("lo/\(owner)/\(id.rawValue)") }
    /// `wo/OWNER/LEASE/LOCK`: an owner's waiting acquires (attached to the lease), counted for its limit.
    func ownerWaiters(_ owner: String) -> Data { key("wo/\(owner)/") }
    func ownerWaiter(_ owner: String, _ id: LeaseID, _ lock: LockName) -> Data {
        key("wo/\(owner)/\(id.rawValue)/\(lock.rawValue)")
    }

    /// `lk/LOCK/`: everything of one lock.
    func lock(_ name: LockName) -> Data { key("lk/\(name.rawValue)/") }
    /// `lk/LOCK/h/LEASE`: a holding, not attached to the lease (a holding whose lease ended is an
    /// unclean release until someone clears it); its create revision is the grant's fencing token.
    func holding(_ name: LockName, _ lease: LeaseID) -> Data { key("lk/\(name.rawValue)/h/\(lease.rawValue)") }
    func holdings(_ name: LockName) -> Data { key("lk/\(name.rawValue)/h/") }
    /// `lk/LOCK/q/LEASE`: a waiting acquire, attached to its lease; the queue's order is create revision.
    func waiter(_ name: LockName, _ lease: LeaseID) -> Data { key("lk/\(name.rawValue)/q/\(lease.rawValue)") }
    func waiters(_ name: LockName) -> Data { key("lk/\(name.rawValue)/q/") }
    /// `lk/LOCK/d`: the end of the lock's lock-delay after an unclean release.
    func lockDelay(_ name: LockName) -> Data { key("lk/\(name.rawValue)/d") }

    func key(_ suffix: String) -> Data { Data((prefix + suffix).utf8) }

    /// The text after `prefix` of `key`, which must start with it.
    func suffix(of key: Data, after prefix: Data) -> String {
        String(decoding: key.dropFirst(prefix.count), as: UTF8.self)
    }

    static func partNumber(_ number: Int) -> String { String(number).leftPadded(to: 5) }

    static func fixedHex(_ value: UInt64) -> String { String(value, radix: 16).leftPadded(to: 16) }

    /// The first key after every key that starts with `prefix`: the end of a prefix range.
    static func rangeEnd(of prefix: Data) -> Data {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.index(before: end.endIndex)] = last + 1
                return end
            }
            end.removeLast()
        }
        return Data([0])  // every key
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
