import EtcdAPI
import Foundation
public import StorageEngine

/// Removes the blobs cluster mode no longer needs, from the shared blob folder: those of replaced
/// or deleted versions once their grace period has passed (a read that began before the commit,
/// on any gateway, has that long to finish), and those no commit references that were last written
/// longer ago than the orphan age (a gateway crashed before committing them). Nothing younger is
/// touched, so several gateways may sweep at once, and none needs to at start.
public struct BlobSweeper: Sendable {
    let client: EtcdClient
    let layout: EtcdKeyLayout
    let metadata: EtcdMetadataStore
    let blobs: FileBlobStore
    /// How long a retired version's blobs stay.
    public let grace: Duration
    /// How old an unreferenced blob must be to be removed.
    public let orphanAge: Duration

    public init(
        client: EtcdClient,
        layout: EtcdKeyLayout,
        metadata: EtcdMetadataStore,
        blobs: FileBlobStore,
        grace: Duration,
        orphanAge: Duration
    ) {
        self.client = client
        self.layout = layout
        self.metadata = metadata
        self.blobs = blobs
        self.grace = grace
        self.orphanAge = orphanAge
    }

    /// One pass. - Returns: how many retired and how many orphaned blobs it removed.
    @discardableResult
    public func sweep(
        nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) async throws -> (
        retired: Int, orphans: Int
    ) {
        let prefix = layout.retiredBlobs
        let records = try await client.range(prefix, end: EtcdKeyLayout.rangeEnd(of: prefix)).kvs
        var retired = 0
        for kv in records {
            guard let record = try? EtcdValues.decode(EtcdValues.RetiredBlob.self, kv.value),
                record.retiredMs + grace.wholeMilliseconds <= nowMs
            else { continue }
            await blobs.remove(layout.suffix(of: kv.key, after: prefix))
            var request = Etcdserverpb_TxnRequest()
            request.compare = [EtcdRequests.unchanged(kv.key, modRevision: kv.modRevision)]
            request.success = [EtcdRequests.delete(kv.key)]
            _ = try await client.txn(request)
            retired += 1
        }
        // Read the references after listing the files: a blob committed in between is referenced.
        let old = try blobs.allIDs(modifiedBefore: Int((nowMs - orphanAge.wholeMilliseconds) / 1000))
        let stillRetired = Set(
            try await client.range(prefix, end: EtcdKeyLayout.rangeEnd(of: prefix)).kvs.map {
                layout.suffix(of: $0.key, after: prefix)
            }
        )
        let orphans = old.subtracting(try await metadata.referencedBlobIDs()).subtracting(stillRetired)
        for orphan in orphans { await blobs.remove(orphan) }
        return (retired, orphans.count)
    }

    /// Sweeps every `interval` until cancelled; a failed pass is tried again at the next.
    public func run(every interval: Duration) async {
        while !Task.isCancelled {
            _ = try? await sweep()
            try? await Task.sleep(for: interval)
        }
    }
}
