import EtcdAPI
import Foundation
public import StorageCore
public import StorageEngine

/// Object metadata in etcd: cluster mode's ``MetadataStore``, shared by every gateway.
///
/// A commit reads what its ``TransactionScope`` names in one round trip (an ``EtcdSnapshot``), runs
/// the same ``CommitPoint`` as the embedded store against it, and applies its changes in one etcd
/// transaction that compares everything it read — so it commits exactly as decided, and its
/// revision is its commit sequence. When another commit got there first, it runs again on a fresh
/// snapshot (bounded). A refusal needs no transaction: it was true at the snapshot's revision.
public final class EtcdMetadataStore: MetadataStore {
    let client: EtcdClient
    let layout: EtcdKeyLayout
    let checksLiveHolders: Bool
    /// How many times a commit runs before it gives up on a key that others keep changing.
    static var maximumAttempts: Int { 32 }

    /// - Parameter checksLiveHolders: fencing claims must match a live holding in etcd (the cluster's
    ///   lock service writes them); false where no lock service runs (only token order is checked).
    public init(client: EtcdClient, layout: EtcdKeyLayout = .init(), checksLiveHolders: Bool) {
        self.client = client
        self.layout = layout
        self.checksLiveHolders = checksLiveHolders
    }

    /// Readers on other gateways may stream a replaced version: its blobs wait for ``BlobSweeper``.
    public var recordsRetiredBlobs: Bool { true }

    /// Every object's bytes are in blobs: etcd holds heads only (its values are small by design,
    /// and every gateway reads them).
    public var inlineLimit: Int { 0 }

    public func commit<T: Sendable>(
        _ scope: TransactionScope,
        freesSpace: Bool,
        _ body: @escaping @Sendable (any MetadataTransaction) throws -> T
    ) async throws(StorageError) -> Commit<T> {
        for _ in 0..<Self.maximumAttempts {
            let (value, transaction) = try await run(scope, body)
            if transaction.isReadOnly { return Commit(value: value, sequence: nil) }
            let response: Etcdserverpb_TxnResponse
            do {
                response = try await client.txn(transaction.request)
            } catch {
                throw Self.unavailable(error)
            }
            if response.succeeded {
                return Commit(value: value, sequence: transaction.changesHead ? UInt64(response.header.revision) : nil)
            }
        }
        throw StorageError(
            .serviceUnavailable,
            "other writes kept changing what this write depends on; nothing was committed, try again"
        )
    }

    public func read<T: Sendable>(
        _ scope: TransactionScope,
        _ body: @escaping @Sendable (any MetadataTransaction) throws -> T
    ) async throws -> T {
        try await run(scope, body).value
    }

    /// Runs `body` on a snapshot that holds the scope, fetching (at the snapshot's revision) every
    /// further read it asks for.
    private func run<T>(
        _ scope: TransactionScope,
        _ body: (any MetadataTransaction) throws -> T
    ) async throws(StorageError) -> (value: T, transaction: EtcdMetadataTransaction) {
        do {
            var snapshot = try await EtcdSnapshot.fetch(reads(of: scope), from: client)
            while true {
                let transaction = EtcdMetadataTransaction(
                    layout: layout,
                    snapshot: snapshot,
                    checksLiveHolders: checksLiveHolders,
                    nowMs: Int64(Date().timeIntervalSince1970 * 1000)
                )
                do {
                    return (try body(transaction), transaction)
                } catch let miss as EtcdMetadataTransaction.Miss {
                    try await snapshot.fetch(miss.read, from: client)
                }
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw Self.unavailable(error)
        }
    }

    /// Everything a transaction of `scope` will read, as ``CommitPoint`` reads it.
    private func reads(of scope: TransactionScope) -> [EtcdSnapshot.Read] {
        var reads: [EtcdSnapshot.Read] = []
        if let bucket = scope.bucket {
            reads.append(.init(key: layout.bucket(bucket)))
            reads.append(prefix(layout.fencedPaths(bucket)))
            if let key = scope.key { reads.append(.init(key: layout.object(bucket, key))) }
        }
        if let claim = scope.fence {
            reads.append(.init(key: layout.highestToken(claim.lock)))
            if checksLiveHolders { reads.append(prefix(layout.holdings(claim.lock))) }
        }
        if let upload = scope.uploadID {
            reads.append(.init(key: layout.upload(upload)))
            reads.append(prefix(layout.parts(upload)))
        }
        reads += scope.writeNames.map { .init(key: layout.writeRecord($0)) }
        return reads
    }

    private func prefix(_ key: Data, limit: Int64 = 0) -> EtcdSnapshot.Read {
        EtcdSnapshot.Read(key: key, end: EtcdKeyLayout.rangeEnd(of: key), limit: limit)
    }

    static func unavailable(_ error: any Error) -> StorageError {
        let etcd = error as? EtcdError
        return StorageError(
            .serviceUnavailable,
            etcd?.mayHaveApplied == true
                ? "the metadata store stopped answering during the commit: the write may or may not have been committed"
                : "the metadata store cannot be reached; nothing was committed",
            detail: "\(error)"
        )
    }

    // MARK: Reads

    private func keyValues(_ read: EtcdSnapshot.Read) async throws(StorageError) -> [Mvccpb_KeyValue] {
        do {
            return try await client.range(read.key, end: read.end.isEmpty ? nil : read.end, limit: Int(read.limit)).kvs
        } catch {
            throw Self.unavailable(error)
        }
    }

    public func bucketNames() async throws -> [(name: String, created: Int64)] {
        try await keyValues(prefix(layout.buckets)).map { kv in
            (
                layout.suffix(of: kv.key, after: layout.buckets),
                try EtcdValues.decode(EtcdValues.Bucket.self, kv.value).createdMs
            )
        }
    }

    public func bucketExists(_ name: String) async throws -> Bool {
        try await !keyValues(.init(key: layout.bucket(name))).isEmpty
    }

    public func head(bucket: String, key: String) async throws -> ObjectHead? {
        try await keyValues(.init(key: layout.object(bucket, key))).first.map { kv in
            try EtcdValues.decode(EtcdValues.Head.self, kv.value)
                .head(bucket: bucket, key: key, commitSequence: kv.modRevision)
        }
    }

    public func currentVersionID(bucket: String, key: String) async throws -> String? {
        try await head(bucket: bucket, key: key)?.versionID
    }

    public func objects(
        bucket: String,
        prefix: String,
        from start: ListingStart,
        limit: Int
    ) async throws -> [ListedObject] {
        let objects = layout.objects(bucket)
        // The first key after `after` is `after` NUL; past a prefix, the prefix's range end.
        let startKey =
            switch start {
            case .after(let after): layout.object(bucket, after) + [0]
            case .pastPrefix(let rolledUp): EtcdKeyLayout.rangeEnd(of: layout.object(bucket, rolledUp))
            }
        let prefixKey = layout.object(bucket, prefix)
        let first = prefixKey.lexicographicallyPrecedes(startKey) ? startKey : prefixKey
        let read = EtcdSnapshot.Read(
            key: first,
            end: EtcdKeyLayout.rangeEnd(of: layout.object(bucket, prefix)),
            limit: Int64(limit)
        )
        return try await keyValues(read).map { kv in
            let listed = try EtcdValues.decode(EtcdValues.Listed.self, kv.value)
            return ListedObject(
                key: layout.suffix(of: kv.key, after: objects),
                size: listed.size,
                etag: listed.etag,
                lastModified: listed.lastModifiedMs
            )
        }
    }

    public func parts(of uploadID: String, after marker: Int, limit: Int) async throws -> [UploadedPart] {
        let read = EtcdSnapshot.Read(
            key: layout.part(uploadID, marker + 1),
            end: EtcdKeyLayout.rangeEnd(of: layout.parts(uploadID)),
            limit: Int64(limit)
        )
        return try await keyValues(read).map { try EtcdValues.decode(EtcdValues.Part.self, $0.value).part }
    }

    public func uploads(bucket: String, prefix: String, limit: Int) async throws -> [MultipartUpload] {
        let read = self.prefix(layout.key("ui/\(bucket)/\(prefix)"), limit: Int64(limit))
        return try await keyValues(read).map { try EtcdValues.decode(EtcdValues.Upload.self, $0.value).upload }
    }

    public func fencedPaths() async throws -> [FencedPath] {
        try await keyValues(prefix(layout.allFencedPaths)).compactMap {
            FencedPath(layout.suffix(of: $0.key, after: layout.allFencedPaths))
        }
    }

    /// Reads every record and deletes the old ones, at most 100 keys per etcd transaction.
    public func removeWriteRecords(recordedBefore time: Int64) async throws -> Int {
        var old: [Data] = []
        for kv in try await keyValues(prefix(layout.writeRecords))
        where try EtcdValues.decode(EtcdValues.Record.self, kv.value).recordedMs < time {
            old.append(kv.key)
        }
        for start in stride(from: 0, to: old.count, by: 100) {
            var request = Etcdserverpb_TxnRequest()
            request.success = old[start..<min(start + 100, old.count)].map(EtcdRequests.delete)
            do {
                _ = try await client.txn(request)
            } catch {
                throw Self.unavailable(error)
            }
        }
        return old.count
    }

    public func referencedBlobIDs() async throws -> Set<String> {
        var ids = Set<String>()
        for kv in try await keyValues(prefix(layout.allParts)) {
            ids.insert(try EtcdValues.decode(EtcdValues.Part.self, kv.value).blobID)
        }
        for kv in try await keyValues(prefix(layout.allObjects)) {
            for segment in try EtcdValues.decode(EtcdValues.Head.self, kv.value).segments { ids.insert(segment.blobID) }
        }
        return ids
    }
}
