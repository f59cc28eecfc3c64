import AsyncHTTPClient
public import EtcdCluster
import Foundation
import NIOCore
public import StorageEngine
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A throw-away etcd cluster on loopback for tests: `members` etcd processes (Debian's
/// `etcd-server`) on ephemeral ports with fresh data folders. Each process also ends when the
/// test process does (a watchdog in its launcher), so a crashed test leaves no etcd behind.
public final class EtcdTestCluster: Sendable {
    /// One member's client URL, `http://127.0.0.1:PORT`.
    public let clientURLs: [String]
    let peerURLs: [String]
    let directory: String
    private let processes: Mutex<[Process?]>

    /// Starts a cluster and waits until every member answers on its client URL (up to 30 s).
    public static func start(members: Int = 1) async throws -> EtcdTestCluster {
        let ports = try (0..<(2 * members)).map { _ in try freeLoopbackPort() }
        let cluster = EtcdTestCluster(
            clientURLs: (0..<members).map { "http://127.0.0.1:\(ports[2 * $0])" },
            peerURLs: (0..<members).map { "http://127.0.0.1:\(ports[2 * $0 + 1])" },
            directory: try makeTemporaryDirectory()
        )
        for member in 0..<members { try cluster.launch(member, state: "new") }
        try await cluster.waitUntilHealthy()
        return cluster
    }

    private init(clientURLs: [String], peerURLs: [String], directory: String) {
        self.clientURLs = clientURLs
        self.peerURLs = peerURLs
        self.directory = directory
        processes = Mutex(Array(repeating: nil, count: clientURLs.count))
    }

    /// The client URLs joined by commas, as `--etcd` takes them.
    public var endpoints: String { clientURLs.joined(separator: ",") }

    /// Kills member `index` with SIGKILL (its data folder stays for ``restart(_:)``).
    public func kill(_ index: Int) {
        let process = processes.withLock { processes in
            defer { processes[index] = nil }
            return processes[index]
        }
        guard let process else { return }
        // The launcher kills its etcd with SIGKILL when told to stop.
        process.terminate()
        process.waitUntilExit()
    }

    /// Starts member `index` again on its data folder, after ``kill(_:)``.
    public func restart(_ index: Int) throws {
        try launch(index, state: "existing")
    }

    /// Stops every member and removes the data folders.
    public func stop() {
        for index in clientURLs.indices { kill(index) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    private func launch(_ index: Int, state: String) throws {
        let name = "m\(index)"
        let initialCluster = peerURLs.indices.map { "m\($0)=\(peerURLs[$0])" }.joined(separator: ",")
        let arguments = [
            "--name", name, "--data-dir", "\(directory)/\(name)",
            "--listen-client-urls", clientURLs[index], "--advertise-client-urls", clientURLs[index],
            "--listen-peer-urls", peerURLs[index], "--initial-advertise-peer-urls", peerURLs[index],
            "--initial-cluster", initialCluster, "--initial-cluster-state", state,
            "--initial-cluster-token", "palisade-test", "--logger", "zap", "--log-level", "error",
        ]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The watchdog: etcd runs in the background and is killed when the test process is gone.
        process.arguments =
            [
                "-c",
                """
                etcd "$@" & child=$!
                trap 'kill -9 $child 2>/dev/null; wait $child; exit' TERM
                while kill -0 \(getpid()) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
                kill -9 $child 2>/dev/null
                """,
                "etcd",
            ] + arguments
        let log = "\(directory)/\(name).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: log)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd") else {
            throw EtcdTestClusterError("etcd is not installed: apt-get install etcd-server (Tests/run-all.sh does)")
        }
        try process.run()
        processes.withLock { $0[index] = process }
    }

    /// Waits until every running member reports itself healthy on `/health`.
    public func waitUntilHealthy(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        let running = processes.withLock { processes in processes.indices.filter { processes[$0] != nil } }
        for index in running {
            while true {
                if let response = try? await HTTPClient.shared.execute(
                    HTTPClientRequest(url: clientURLs[index] + "/health"),
                    timeout: .seconds(2)
                ),
                    let body = try? await response.body.collect(upTo: 4096),
                    String(buffer: body).contains("\"health\":\"true\"")
                {
                    break
                }
                guard ContinuousClock.now < deadline else {
                    throw EtcdTestClusterError("etcd member \(index) was not healthy within \(timeout)")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

/// The etcd test cluster could not start.
public struct EtcdTestClusterError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A loopback TCP port that was free a moment ago (the kernel's choice for port 0).
func freeLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw EtcdTestClusterError("socket: errno \(errno)") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            Glibc.bind(socket, address, length) == 0 && getsockname(socket, address, &length) == 0
        }
    }
    guard bound else { throw EtcdTestClusterError("bind: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

extension EtcdTestCluster {
    /// One single-member cluster and its client, started on first use and shared by every test of
    /// the process (each store keeps to its own key prefix); it ends with the process.
    public static var shared: (cluster: EtcdTestCluster, client: EtcdClient) {
        get async throws { try await sharedCluster.value }
    }

    private static let sharedCluster = Task { () throws -> (cluster: EtcdTestCluster, client: EtcdClient) in
        let cluster = try await EtcdTestCluster.start()
        let client = try EtcdClient(endpoints: EtcdEndpoint.list(cluster.endpoints)!)
        Task.detached { try await client.run() }
        return (cluster, client)
    }
}

/// Where a test's object store keeps its metadata: the embedded SQLite store, or etcd (cluster mode).
public enum MetadataKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case etcd

    public var description: String { rawValue }
}

/// An object store with its blobs in `directory` and its metadata as `kind` says: SQLite in
/// `directory`, or etcd under a key prefix named by `directory` (so the same folder opens the same store).
public func makeObjectStore(
    _ kind: MetadataKind,
    directory: String,
    durability: ObjectStore.Durability = .durable,
    authority: (any FenceAuthority)? = nil,
    inlineLimit: Int = SQLiteMetadataStore.defaultInlineLimit
) async throws -> ObjectStore {
    switch kind {
    case .sqlite:
        return try ObjectStore(
            directory: directory,
            durability: durability,
            authority: authority,
            inlineLimit: inlineLimit
        )
    case .etcd:
        let metadata = EtcdMetadataStore(
            client: try await EtcdTestCluster.shared.client,
            layout: EtcdKeyLayout(prefix: "test\(directory)/"),
            checksLiveHolders: false
        )
        return ObjectStore(
            metadata: metadata,
            blobs: try FileBlobStore(root: directory + "/blobs"),
            durability: durability
        )
    }
}

/// Removes what the store of `kind` in `directory` retired: nothing to do for SQLite (the store
/// unlinks a replaced version when its last reader closes); for etcd, a sweep with no grace period
/// (unreferenced blobs younger than an hour stay).
public func sweepRetiredBlobs(_ kind: MetadataKind, directory: String) async throws {
    guard kind == .etcd else { return }
    let client = try await EtcdTestCluster.shared.client
    let layout = EtcdKeyLayout(prefix: "test\(directory)/")
    let sweeper = BlobSweeper(
        client: client,
        layout: layout,
        metadata: EtcdMetadataStore(client: client, layout: layout, checksLiveHolders: false),
        blobs: try FileBlobStore(root: directory + "/blobs"),
        grace: .zero,
        orphanAge: .seconds(3600)
    )
    try await sweeper.sweep()
}
