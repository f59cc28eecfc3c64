// swift-tools-version:6.2
import PackageDescription

/// Warnings are errors in our own targets, in every build: the test command and `swift run palisade`
/// build with the same flags, so neither rebuilds after the other. (SwiftPM drops warning settings
/// of a package used as a dependency.)
let strictSettings: [SwiftSetting] = [.treatAllWarnings(as: .error)]

/// `PALISADE_FUZZ=1 swift build --scratch-path .build-fuzz --product …Fuzzer` (see `Fuzz/run.sh`):
/// our own targets get libFuzzer's coverage instrumentation, and the fuzzers are added.
let fuzzing = Context.environment["PALISADE_FUZZ"] == "1"

let swiftSettings: [SwiftSetting] =
    [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
    ] + strictSettings + (fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"])] : [])

let package = Package(
    name: "palisade",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "palisade", targets: ["PalisadeCLI"]),
        .library(name: "PalisadeClient", targets: ["PalisadeClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        // Wire vocabulary shared by server and client: standard library only.
        .target(name: "PalisadeProtocol", swiftSettings: swiftSettings),
        // Low-level helpers every layer may use: lowercase hex (digests, signatures, ETags), folder
        // sync, the space reserve. Standard library only.
        .target(name: "PalisadeSupport", swiftSettings: swiftSettings),
        // libuuid (Debian's uuid-dev), as the design card names it.
        .systemLibrary(name: "CUUID", pkgConfig: "uuid", providers: [.apt(["uuid-dev"])]),
        // Ids of the server: random ones (lease, upload and version ids) from libuuid, request ids; the
        // client library does not link it.
        .target(name: "PalisadeIDs", dependencies: ["CUUID", "PalisadeSupport"], swiftSettings: swiftSettings),
        // AWS Signature V4: pure signing and verification, used by the server and the client.
        .target(
            name: "PalisadeAuth",
            dependencies: ["PalisadeSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The pure lock table: no I/O, time is a parameter.
        .target(
            name: "LockCore",
            dependencies: [
                "PalisadeProtocol",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // The pure commit rules of the storage gateway: preconditions, fencing, multipart assembly.
        .target(name: "StorageCore", dependencies: ["PalisadeProtocol"], swiftSettings: swiftSettings),
        // How the engines open SQLite: persistent WAL, durability set on the writer.
        .target(
            name: "PalisadeSQLite",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The lock service engine: actor, clock, timers, persistence.
        .target(
            name: "LockEngine",
            dependencies: [
                "LockCore", "PalisadeProtocol", "PalisadeSupport", "PalisadeIDs", "PalisadeSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The object store: the metadata store seam and its SQLite implementation, blob files, the
        // commit point of every write.
        .target(
            name: "StorageEngine",
            dependencies: [
                "StorageCore", "PalisadeProtocol", "PalisadeSupport", "PalisadeIDs", "PalisadeSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // etcd 3.4's gRPC API (KV, Watch, Lease, Cluster, …): code generated by `generate.sh` from
        // etcd's own .proto files, and committed.
        .target(
            name: "EtcdAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["generate.sh"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Cluster mode: the metadata store (and, next, the lock backend) on an etcd cluster, through
        // one gRPC client that talks to every member.
        .target(
            name: "EtcdCluster",
            dependencies: [
                "EtcdAPI", "StorageEngine", "StorageCore", "LockCore", "LockEngine", "PalisadeProtocol",
                "PalisadeSupport", "PalisadeIDs",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP shell: lock API (JSON, and lock sessions over WebSocket), health, metrics, SigV4.
        .target(
            name: "PalisadeHTTP",
            dependencies: [
                "LockCore", "LockEngine", "PalisadeProtocol", "PalisadeAuth", "PalisadeSupport", "PalisadeIDs",
                "StorageEngine", "StorageCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift client library.
        .target(
            name: "PalisadeClient",
            dependencies: [
                "PalisadeProtocol", "PalisadeAuth", "PalisadeSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The `palisade` executable.
        .executableTarget(
            name: "PalisadeCLI",
            dependencies: [
                "PalisadeHTTP", "PalisadeClient", "PalisadeAuth", "PalisadeProtocol", "PalisadeSupport", "PalisadeIDs",
                "LockCore", "EtcdCluster",
                "LockEngine", "StorageEngine", "StorageCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // examples/lock-client: the LockClient example program.
        .executableTarget(
            name: "lock-client-example",
            dependencies: ["PalisadeClient"],
            path: "examples/lock-client",
            swiftSettings: swiftSettings
        ),
        // examples/paused-writer: a paused former holder's write is refused.
        .executableTarget(
            name: "paused-writer-example",
            dependencies: ["PalisadeClient", "PalisadeProtocol", .product(name: "NIOCore", package: "swift-nio")],
            path: "examples/paused-writer",
            swiftSettings: swiftSettings
        ),
        // Test helpers: manual clock, in-process server on an ephemeral port.
        .target(
            name: "PalisadeTestSupport",
            dependencies: [
                "PalisadeHTTP", "LockCore", "LockEngine", "PalisadeClient", "PalisadeAuth", "StorageEngine",
                "EtcdCluster", "PalisadeProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LockCoreTests",
            dependencies: ["LockCore", "PalisadeProtocol", "PalisadeTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StorageCoreTests",
            dependencies: ["StorageCore", "PalisadeProtocol"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "PalisadeSupportTests", dependencies: ["PalisadeSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "PalisadeIDsTests", dependencies: ["PalisadeIDs"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PalisadeTestSupportTests",
            dependencies: ["PalisadeTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StorageEngineTests",
            dependencies: [
                "StorageEngine", "StorageCore", "PalisadeProtocol", "PalisadeSQLite", "PalisadeTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EtcdClusterTests",
            dependencies: [
                "EtcdCluster", "StorageEngine", "StorageCore", "PalisadeProtocol", "PalisadeTestSupport",
                "PalisadeClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "PalisadeAuthTests", dependencies: ["PalisadeAuth"], swiftSettings: swiftSettings),
        .testTarget(
            name: "LockEngineTests",
            dependencies: [
                "LockCore", "LockEngine", "PalisadeProtocol", "PalisadeTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PalisadeHTTPTests",
            dependencies: [
                "PalisadeHTTP", "LockEngine", "PalisadeTestSupport", "PalisadeAuth", "PalisadeClient",
                "PalisadeProtocol",
                "StorageEngine", "StorageCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PalisadeClientTests",
            dependencies: [
                "PalisadeClient", "PalisadeAuth", "PalisadeProtocol", "PalisadeTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PalisadeCLITests",
            dependencies: [
                "PalisadeCLI", "PalisadeClient", "PalisadeProtocol", "PalisadeTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

if fuzzing {
    let fuzzers: [(name: String, dependencies: [Target.Dependency])] = [
        ("SigV4Fuzzer", ["PalisadeAuth"]),
        ("AWSChunkedFuzzer", ["PalisadeHTTP", .product(name: "NIOCore", package: "swift-nio")]),
        ("S3XMLFuzzer", ["PalisadeHTTP"]),
        ("LockMessageFuzzer", ["PalisadeHTTP", "PalisadeProtocol"]),
    ]
    package.targets.append(.target(name: "FuzzerDriver", path: "Fuzz/FuzzerDriver", swiftSettings: swiftSettings))
    for fuzzer in fuzzers {
        package.targets.append(
            .executableTarget(
                name: fuzzer.name,
                dependencies: fuzzer.dependencies + ["FuzzerDriver"],
                path: "Fuzz/\(fuzzer.name)",
                swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])],
                linkerSettings: [.unsafeFlags(["-sanitize=fuzzer"])]
            )
        )
    }
}
