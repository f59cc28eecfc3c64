import EtcdAPI
import Foundation
import PalisadeProtocol
import StorageCore
import StorageEngine

/// A ``MetadataTransaction`` over etcd, optimistic: reads come from an ``EtcdSnapshot`` (one
/// revision), changes are buffered, and ``request`` makes them one etcd transaction whose compares
/// check that nothing the commit read has changed since — so the commit applies exactly as decided,
/// or not at all and runs again on a fresh snapshot.
///
/// A read the snapshot does not hold throws ``Miss``; the store fetches it and runs the commit again.
final class EtcdMetadataTransaction: MetadataTransaction {
    /// A read the snapshot does not hold yet.
    struct Miss: Error {
        var read: EtcdSnapshot.Read
    }

    let layout: EtcdKeyLayout
    let snapshot: EtcdSnapshot
    /// Whether fencing claims are checked against live holdings (`lk/LOCK/h/TOKEN`) in etcd.
    let checksLiveHolders: Bool
    /// The time a retirement records, ms since 1970.
    let nowMs: Int64
    private var used: [EtcdSnapshot.Read] = []
    private var puts: [Data: Data] = [:]
    private var deletes: Set<Data> = []
    private var rangeDeletes: [Data] = []
    /// Whether a head was put or removed: the commit's revision is then its commit sequence.
    private(set) var changesHead = false

    init(layout: EtcdKeyLayout, snapshot: EtcdSnapshot, checksLiveHolders: Bool, nowMs: Int64) {
        self.layout = layout
        self.snapshot = snapshot
        self.checksLiveHolders = checksLiveHolders
        self.nowMs = nowMs
    }

    var isReadOnly: Bool { puts.isEmpty && deletes.isEmpty && rangeDeletes.isEmpty }

    /// The etcd transaction: every read still as read, then every change.
    var request: Etcdserverpb_TxnRequest {
        var request = Etcdserverpb_TxnRequest()
        request.compare = Set(used).map(compare(unchanged:))
        request.success = puts.map { EtcdRequests.put($0.key, $0.value) } + deletes.map(EtcdRequests.delete)
        for prefix in rangeDeletes {
            var operation = EtcdRequests.delete(prefix)
            operation.requestDeleteRange.rangeEnd = EtcdKeyLayout.rangeEnd(of: prefix)
            request.success.append(operation)
        }
        return request
    }

    /// A key read as absent must still be absent, one read as present must have the same mod
    /// revision; a range must hold no key changed after the snapshot (a key created since has a
    /// later mod revision; one deleted since only makes the range emptier).
    private func compare(unchanged read: EtcdSnapshot.Read) -> Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = read.key
        if read.end.isEmpty {
            if let kv = snapshot[read]?.first {
                compare.target = .mod
                compare.result = .equal
                compare.modRevision = kv.modRevision
            } else {
                compare.target = .version
                compare.result = .equal
                compare.version = 0
            }
        } else {
            compare.rangeEnd = read.end
            compare.target = .mod
            compare.result = .less
            compare.modRevision = snapshot.revision + 1
        }
        return compare
    }

    // MARK: Reads

    private func value(_ key: Data) throws -> Mvccpb_KeyValue? {
        let read = EtcdSnapshot.Read(key: key)
        guard let kvs = snapshot[read] else { throw Miss(read: read) }
        used.append(read)
        return kvs.first
    }

    /// - Parameter compared: false for a read that only finds keys which are then read (and compared) one by one.
    private func range(_ prefix: Data, limit: Int64 = 0, compared: Bool = true) throws -> [Mvccpb_KeyValue] {
        let read = EtcdSnapshot.Read(key: prefix, end: EtcdKeyLayout.rangeEnd(of: prefix), limit: limit)
        guard let kvs = snapshot[read] else { throw Miss(read: read) }
        if compared { used.append(read) }
        return kvs
    }

    func bucketExists(_ name: String) throws -> Bool {
        try value(layout.bucket(name)) != nil
    }

    func bucketHasObjects(_ name: String) throws -> Bool {
        try !range(layout.objects(name), limit: 1).isEmpty
    }

    func uploads(in bucket: String, limit: Int) throws -> [MultipartUpload] {
        try range(layout.uploadIndex(bucket), limit: Int64(limit)).map {
            try EtcdValues.decode(EtcdValues.Upload.self, $0.value).upload
        }
    }

    func head(bucket: String, key: String) throws -> ObjectHead? {
        try value(layout.object(bucket, key)).map { kv in
            try EtcdValues.decode(EtcdValues.Head.self, kv.value)
                .head(bucket: bucket, key: key, commitSequence: kv.modRevision)
        }
    }

    func fencedPaths(in bucket: String) throws -> [FencedPath] {
        let prefix = layout.fencedPaths(bucket)
        return try range(prefix).map { FencedPath(bucket: bucket, prefix: layout.suffix(of: $0.key, after: prefix)) }
    }

    func highestToken(of lock: LockName) throws -> FencingToken? {
        try value(layout.highestToken(lock)).flatMap { FencingToken(String(decoding: $0.value, as: UTF8.self)) }
    }

    /// A claim is live when a holding of its lock was recorded at its token (create revision) and
    /// that holding's lease is alive; both keys are compared at the commit, so a lease that ends
    /// before the commit applies fails it.
    func isLiveHolder(_ claim: FenceClaim) throws -> Bool? {
        guard checksLiveHolders else { return nil }
        let holdings = layout.holdings(claim.lock)
        // Finding the holding needs no compare: the holding itself is compared below.
        guard
            let found = try range(holdings, compared: false)
                .first(where: { UInt64($0.createRevision) == claim.token.rawValue }),
            let lease = LeaseID(rawValue: layout.suffix(of: found.key, after: holdings)),
            let holding = try value(found.key), holding.createRevision == found.createRevision
        else { return false }
        return try value(layout.lease(lease)) != nil
    }

    func upload(_ id: String) throws -> MultipartUpload? {
        try value(layout.upload(id)).map { try EtcdValues.decode(EtcdValues.Upload.self, $0.value).upload }
    }

    func parts(of uploadID: String) throws -> [UploadedPart] {
        try range(layout.parts(uploadID)).map { try EtcdValues.decode(EtcdValues.Part.self, $0.value).part }
    }

    func writeRecord(_ name: String) throws -> WriteRecord? {
        try value(layout.writeRecord(name)).map { kv in
            try EtcdValues.decode(EtcdValues.Record.self, kv.value).record(name: name, modRevision: kv.modRevision)
        }
    }

    // MARK: Changes

    private func put(_ key: Data, _ value: Data) {
        deletes.remove(key)
        puts[key] = value
    }

    private func delete(_ key: Data) {
        puts[key] = nil
        deletes.insert(key)
    }

    func insertBucket(_ name: String, createdAt: Int64) throws {
        put(layout.bucket(name), EtcdValues.encode(EtcdValues.Bucket(createdMs: createdAt)))
    }

    func removeBucket(_ name: String) throws {
        delete(layout.bucket(name))
    }

    func putHead(_ head: ObjectHead) throws {
        try retireCurrentVersion(bucket: head.bucket, key: head.key)
        put(layout.object(head.bucket, head.key), EtcdValues.encode(EtcdValues.Head(head)))
        changesHead = true
    }

    func removeHead(bucket: String, key: String) throws {
        try retireCurrentVersion(bucket: bucket, key: key)
        delete(layout.object(bucket, key))
        changesHead = true
    }

    /// Records the blobs of the key's current version as retired now, in the commit that replaces it.
    private func retireCurrentVersion(bucket: String, key: String) throws {
        guard let current = try head(bucket: bucket, key: key) else { return }
        let record = EtcdValues.encode(EtcdValues.RetiredBlob(retiredMs: nowMs))
        for segment in current.segments { put(layout.retiredBlob(segment.blobID), record) }
    }

    func raiseHighestToken(_ claim: FenceClaim) throws {
        if let highest = try highestToken(of: claim.lock), highest >= claim.token { return }
        put(layout.highestToken(claim.lock), Data(claim.token.description.utf8))
    }

    func insertUpload(_ upload: MultipartUpload) throws {
        let value = EtcdValues.encode(EtcdValues.Upload(upload))
        put(layout.upload(upload.id), value)
        put(layout.uploadIndex(upload), value)
    }

    func putPart(_ part: UploadedPart, uploadID: String) throws {
        put(layout.part(uploadID, part.number), EtcdValues.encode(EtcdValues.Part(part)))
    }

    func removeUpload(_ id: String) throws {
        guard let upload = try upload(id) else { return }
        delete(layout.upload(id))
        delete(layout.uploadIndex(upload))
        rangeDeletes.append(layout.parts(id))
    }

    func putWriteRecord(_ record: WriteRecord) throws {
        put(layout.writeRecord(record.name), EtcdValues.encode(EtcdValues.Record(record, sequenced: changesHead)))
    }

    func setFenced(_ path: FencedPath, _ fenced: Bool) throws {
        if fenced { put(layout.fencedPath(path), Data()) } else { delete(layout.fencedPath(path)) }
    }
}
