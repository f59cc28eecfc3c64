import EtcdCluster
import Foundation
import LockCore
import LockEngine
import Logging
import Metrics
import PalisadeSupport
import ServiceLifecycle
import StorageEngine

/// The engines `serve` runs, chosen in this one place: the embedded ones in a data folder, or
/// cluster mode's on etcd with a shared blob folder.
struct Deployment {
    var locks: any LockBackend
    var store: ObjectStore
    /// What runs beside the HTTP server: the embedded lock service's timer, or the etcd connections.
    var services: [any Service]
    /// Where the state is, for the start-up line.
    var description: String

    /// The embedded mode: lock state and object metadata in SQLite, blobs in `directory`. Blobs that
    /// no commit references (a crash before a commit) are removed before serving.
    static func embedded(
        in directory: String,
        durability: ObjectStore.Durability,
        rules: LockTable<ContinuousClock.Instant>.Configuration,
        reserve: SpaceReserve,
        metricsFactory: any MetricsFactory
    ) async throws -> Deployment {
        let locks = try LockService(
            clock: ContinuousClock(),
            configuration: .init(rules: rules),
            persistence: try .embedded(in: directory, durable: durability == .durable, reserve: reserve),
            logger: Logger(label: "palisade.locks"),
            metricsFactory: metricsFactory
        )
        let store = try ObjectStore(
            directory: directory,
            durability: durability,
            authority: locks.liveGrants,
            reserve: reserve
        )
        try await store.removeUnreferencedBlobs()
        return Deployment(
            locks: locks,
            store: store,
            services: [locks, WriteRecordExpiry(store: store)],
            description: "data in \(directory)"
        )
    }

    /// Cluster mode: locks and object metadata in etcd under `prefix`, blobs in the shared `blobs`
    /// folder. Nothing is swept at start: another gateway may be writing a blob that is not committed yet.
    static func cluster(
        etcd: [EtcdEndpoint],
        prefix: String,
        blobs: String,
        durability: ObjectStore.Durability,
        rules: LockTable<ContinuousClock.Instant>.Configuration,
        reserve: SpaceReserve,
        blobGrace: Duration
    ) throws -> Deployment {
        let client = try EtcdClient(endpoints: etcd)
        let layout = EtcdKeyLayout(prefix: prefix)
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        let metadata = EtcdMetadataStore(client: client, layout: layout, checksLiveHolders: true)
        let files = try FileBlobStore(root: blobs)
        let store = ObjectStore(metadata: metadata, blobs: files, durability: durability, reserve: reserve)
        let sweeper = BlobSweeper(
            client: client,
            layout: layout,
            metadata: metadata,
            blobs: files,
            grace: blobGrace,
            orphanAge: blobGrace
        )
        return Deployment(
            locks: EtcdLockBackend(client: client, layout: layout, configuration: rules),
            store: store,
            services: [EtcdConnections(client: client, sweeper: sweeper), WriteRecordExpiry(store: store)],
            description: "cluster mode: etcd \(etcd.map(\.description).joined(separator: ",")), blobs in \(blobs)"
        )
    }
}

/// The etcd client's connections and the blob sweeper, for the server's lifetime.
struct EtcdConnections: Service {
    let client: EtcdClient
    let sweeper: BlobSweeper

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await sweeper.run(every: min(sweeper.grace / 4, .seconds(60))) }
                try await client.run()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            client.shutDown()
        }
    }
}

/// Removes write records past their retention (``ObjectStore/writeRecordRetention``), at start
/// and then hourly, until the server shuts down.
struct WriteRecordExpiry: Service {
    let store: ObjectStore
    let logger = Logger(label: "palisade.write-records")

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await store.removeExpiredWriteRecords()
                } catch {
                    logger.warning("could not remove expired write records", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}
