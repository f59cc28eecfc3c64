import ArgumentParser
import EtcdCluster
import Foundation
import LockCore
import LockEngine
import Logging
import Metrics
import NIOSSL
import PalisadeAuth
import PalisadeHTTP
import PalisadeIDs
import PalisadeSupport
import Prometheus
import ServiceLifecycle
import StorageCore
import StorageEngine
import UnixSignals

/// `palisade serve`: runs the lock service and the gateway on one listener.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Palisade server on its embedded store, or as a gateway of a cluster on etcd."
    )

    @Option(help: "Folder for all state (created when missing); in cluster mode, only the generated keys.")
    var dataDir = "./palisade-data"

    @Option(
        help: """
            Cluster mode: the client URLs of an etcd cluster (http://HOST:PORT,…), where locks and object \
            metadata live; every gateway given the same etcd, prefix and --blobs serves the same data.
            """
    )
    var etcd: String?

    @Option(help: "Cluster mode: the prefix of every key Palisade keeps in etcd.")
    var etcdPrefix = "palisade/"

    @Option(help: "Cluster mode: the folder of object data, shared by every gateway (NFS, CephFS, …).")
    var blobs: String?

    @Option(
        help: """
            Cluster mode: how long a replaced or deleted version's data stays for reads already \
            streaming it on any gateway; also the age at which data no write committed is removed.
            """
    )
    var blobGrace = DurationArgument(.seconds(3600))

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 9000

    @Option(help: "Access key; with no keys, random ones are generated on first start and kept in the data folder.")
    var accessKey: String?

    @Option(
        help: """
            Secret key (goes with --access-key). Visible to every user in `ps`: prefer \
            --secret-key-file or the PALISADE_SECRET_KEY environment variable.
            """
    )
    var secretKey: String?

    @Option(help: "A file whose first line is the secret key (goes with --access-key).")
    var secretKeyFile: String?

    @Option(
        help: """
            A users file: access keys with IAM-style policies (Protocol/security.md). Read again on SIGHUP; \
            the key of --access-key or the data folder stays the administrator.
            """
    )
    var users: String?

    @Option(help: "Lock-delay after an unclean release (lease expiry, force-release); 0 turns it off.")
    var lockDelay = DurationArgument(.seconds(1))

    @Option(help: "Live leases one access key may have (more are refused with 429 TooManyLeases).")
    var maxLeasesPerKey = 10_000

    @Option(help: "Acquires one access key may have waiting (more are refused with 429 TooManyWaiters).")
    var maxWaitersPerKey = 1_000

    @Option(
        help:
            "durable: fsync every write and lock change before success; relaxed: no fsync (a power loss may lose acknowledged ones)."
    )
    var durability: String = ObjectStore.Durability.durable.rawValue

    @Option(
        help: """
            Disk room (MiB) kept in the data folder so that deletes and lock changes work on a full disk; \
            new object data is refused (507) while it cannot be kept. 0 keeps none.
            """
    )
    var spaceReserveMib: UInt64 = 64

    @Option(help: "Fence BUCKET or BUCKET/PREFIX: writes there must carry a fencing token (repeatable, persisted).")
    var fenced: [String] = []

    @Option(help: "Also accept virtual-host style S3 requests: a Host of BUCKET.DOMAIN names the bucket.")
    var domain: String?

    @Option(
        help: """
            On SIGTERM or SIGINT, how long requests in flight may take to finish; then the connections \
            left (a client that reads nothing, say) are closed.
            """
    )
    var shutdownGrace = DurationArgument(.seconds(5))

    @Option(help: "PEM certificate chain: with --tls-key, the listener speaks TLS only (https://, wss://).")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "Close a connection with no request in progress after this long.")
    var idleTimeout = DurationArgument(.seconds(60))

    @Option(help: "A request's head must arrive within this long of its first byte (or of the connection's opening).")
    var headerTimeout = DurationArgument(.seconds(10))

    @Option(
        help: "While a request's body is awaited, the client must send some within this long (else 400 RequestTimeout)."
    )
    var bodyTimeout = DurationArgument(.seconds(30))

    @Option(
        help: """
            Connections served at once; more are closed on arrival. By default 4096, or fewer when the \
            process may not open that many files.
            """
    )
    var maxConnections: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(
        help: """
            Log one line per request (label palisade.access, level info): operation, bucket, key, status, \
            bytes, duration, request id, access key.
            """
    )
    var accessLog = false

    func validate() throws {
        if secretKey != nil && secretKeyFile != nil {
            throw ValidationError("give the secret key once: --secret-key or --secret-key-file")
        }
        if accessKey == nil && (secretKey != nil || secretKeyFile != nil) {
            throw ValidationError("--secret-key and --secret-key-file go with --access-key")
        }
        if accessKey != nil && secretKey == nil && secretKeyFile == nil && environmentSecret == nil {
            throw ValidationError("--access-key needs a secret: --secret-key-file, PALISADE_SECRET_KEY or --secret-key")
        }
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("unknown log level '\(logLevel)'") }
        for path in fenced where FencedPath(path) == nil {
            throw ValidationError("--fenced takes BUCKET or BUCKET/PREFIX")
        }
        if let etcd {
            guard EtcdEndpoint.list(etcd) != nil else {
                throw ValidationError("--etcd takes http://HOST:PORT client URLs, separated by commas")
            }
            guard blobs != nil else {
                throw ValidationError("--etcd needs --blobs, the object data folder every gateway shares")
            }
            guard accessKey != nil else {
                throw ValidationError(
                    "--etcd needs --access-key (with its secret): every gateway must accept the same keys"
                )
            }
        } else if blobs != nil {
            throw ValidationError("--blobs goes with --etcd (the embedded store keeps its data in --data-dir)")
        }
        if ObjectStore.Durability(rawValue: durability) == nil {
            throw ValidationError("--durability is durable or relaxed, not '\(durability)'")
        }
    }

    func run() async throws {
        // Everything the server writes (objects, metadata, lock state, credentials) is its own.
        umask(0o077)
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        chmod(dataDir, 0o700)
        // The space reserve is taken in the blob folder: it must exist first.
        if let blobs { try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true) }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        MetricsSystem.bootstrap(factory)
        let logger = Logger(label: "palisade")

        let credentials = try resolveCredentials()
        let administrator = UserDirectory.User(credentials: credentials, policy: .administrator)
        let directory = UserDirectory([administrator] + (try users.map(Self.readUsers) ?? []))
        let durability = ObjectStore.Durability(rawValue: durability) ?? .durable
        let reserve = SpaceReserve(folder: blobs ?? dataDir, size: spaceReserveMib * 1024 * 1024)
        if reserve.isLow {
            logger.warning("the disk is short of space: new object data is refused until it has room")
        }
        let rules = LockTable<ContinuousClock.Instant>.Configuration(
            lockDelay: lockDelay.duration,
            maximumLeasesPerOwner: maxLeasesPerKey,
            maximumWaitersPerOwner: maxWaitersPerKey
        )
        let deployment =
            if let etcd, let blobs {
                try Deployment.cluster(
                    etcd: EtcdEndpoint.list(etcd)!,
                    prefix: etcdPrefix,
                    blobs: blobs,
                    durability: durability,
                    rules: rules,
                    reserve: reserve,
                    blobGrace: blobGrace.duration
                )
            } else {
                try await Deployment.embedded(
                    in: dataDir,
                    durability: durability,
                    rules: rules,
                    reserve: reserve,
                    metricsFactory: factory
                )
            }
        let store = deployment.store
        for path in fenced { try await store.setFenced(FencedPath(path)!, true) }
        let app = try buildApplication(
            configuration: ServerConfiguration(
                host: host,
                port: port,
                credentials: [credentials],
                domain: domain,
                users: directory,
                limits: ConnectionLimits(
                    idleTimeout: idleTimeout.duration,
                    headerTimeout: headerTimeout.duration,
                    bodyTimeout: bodyTimeout.duration,
                    maximumConnections: maxConnections ?? Self.defaultMaximumConnections()
                ),
                tls: try tlsConfiguration(),
                accessLog: accessLog
            ),
            locks: deployment.locks,
            store: store,
            registry: registry,
            metricsFactory: factory,
            logger: logger,
            onServerRunning: { [host, scheme = tlsCert == nil ? "http" : "https"] port in
                announce(
                    "palisade \(palisadeVersion) listening on \(scheme)://\(host):\(port) (\(deployment.description))"
                )
            }
        )
        var lifecycle = ServiceGroupConfiguration(
            services: [app] + deployment.services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        lifecycle.maximumGracefulShutdownDuration = shutdownGrace.duration
        let group = ServiceGroup(configuration: lifecycle)
        try await withThrowingDiscardingTaskGroup { tasks in
            if let users {
                tasks.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        do {
                            directory.replace(with: [administrator] + (try Self.readUsers(users)))
                            logger.notice("users file read again", metadata: ["file": "\(users)"])
                        } catch {
                            logger.error(
                                "users file not read again; the previous users stay",
                                metadata: ["error": "\(error)"]
                            )
                        }
                    }
                }
            }
            try await group.run()
            tasks.cancelAll()
        }
    }

    /// `PALISADE_SECRET_KEY`, the secret that goes with `--access-key` when no flag gives it.
    var environmentSecret: String? { ProcessInfo.processInfo.environment["PALISADE_SECRET_KEY"] }

    /// The keys from the flags (the secret from `--secret-key`, `--secret-key-file` or the
    /// environment), or those kept in the data folder, or new random ones (then kept).
    func resolveCredentials() throws -> SigV4Credentials {
        if let accessKey {
            var secret = secretKey ?? environmentSecret
            if let secretKeyFile {
                guard let text = try? String(contentsOfFile: secretKeyFile, encoding: .utf8),
                    let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty
                else { throw ValidationError("cannot read a secret key from \(secretKeyFile)") }
                secret = String(line)
            }
            guard let secret else { throw ValidationError("--access-key needs a secret") }
            return SigV4Credentials(accessKeyID: accessKey, secretAccessKey: secret)
        }
        let path = dataDir + "/credentials.json"
        if let data = FileManager.default.contents(atPath: path) {
            let stored = try JSONDecoder().decode(StoredCredentials.self, from: data)
            announce("Using the credentials kept in \(path) (access key \(stored.accessKey)).")
            return SigV4Credentials(accessKeyID: stored.accessKey, secretAccessKey: stored.secretKey)
        }
        let generated = StoredCredentials(
            accessKey: "PK" + String(RandomUUID.hex().prefix(18)).uppercased(),
            secretKey: RandomUUID.hex() + RandomUUID.hex()
        )
        let data = try JSONEncoder().encode(generated)
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
        else {
            throw ValidationError("cannot write \(path)")
        }
        announce(
            """
            Generated credentials (kept in \(path)):
              export PALISADE_ACCESS_KEY=\(generated.accessKey)
              export PALISADE_SECRET_KEY=\(generated.secretKey)
            """
        )
        return SigV4Credentials(accessKeyID: generated.accessKey, secretAccessKey: generated.secretKey)
    }
}

extension ServeCommand {
    /// The users of a users file, or a validation error that says what is wrong with it.
    static func readUsers(_ path: String) throws -> [UserDirectory.User] {
        do {
            return try UserDirectory.users(fromFile: path)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The server's TLS set-up from `--tls-cert` and `--tls-key`, or nil for plain HTTP.
    func tlsConfiguration() throws -> TLSConfiguration? {
        guard let tlsCert, let tlsKey else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tlsCert).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        } catch {
            throw ValidationError("cannot load the TLS certificate or key: \(error)")
        }
    }

    /// 4096, or fewer when the file limit is lower: room is left for the data files, the listener
    /// and the SQLite handles, so a flood of connections cannot starve them.
    static func defaultMaximumConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 4096 }
        return Int(max(16, min(4096, Int64(clamping: limit.rlim_cur) - 128)))
    }
}

/// `credentials.json` in the data folder.
struct StoredCredentials: Codable {
    var accessKey: String
    var secretKey: String

    enum CodingKeys: String, CodingKey {
        case accessKey = "access_key"
        case secretKey = "secret_key"
    }
}

/// Writes a line to standard output at once (unbuffered), so a pipe or log file sees it immediately.
func announce(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
