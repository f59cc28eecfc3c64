import ArgumentParser
import Foundation
import NIOCore
import StorageEngine

/// `palisade bench list --sizes 1000,10000,100000`: the object store's listing cost as a bucket
/// grows, flat and partitioned into 1 000 folders, in milliseconds per page of the store's own
/// time (no HTTP), so the curve of cost per returned entry is visible.
struct ListingBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Listing pages (flat, by folder, one folder's prefix) as a bucket grows."
    )

    @Option(help: "Bucket sizes in keys, ascending, comma-separated (each at least 1000).")
    var sizes = "1000,10000,100000"

    @Option(help: "Pages timed per figure (the median is printed).")
    var pages = 5

    static let folders = 1000

    func validate() throws {
        let parsed = sizes.split(separator: ",").compactMap { Int($0) }
        guard !parsed.isEmpty, parsed.count == sizes.split(separator: ",").count, parsed == parsed.sorted(),
            parsed.allSatisfy({ (Self.folders...10_000_000).contains($0) && $0 % Self.folders == 0 })
        else {
            throw ValidationError("--sizes: ascending multiples of 1000, from 1000 to 10000000")
        }
        guard (1...100).contains(pages) else { throw ValidationError("--pages is 1 to 100") }
    }

    func run() async throws {
        let directory = NSTemporaryDirectory() + "palisade-bench-list-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try ObjectStore(directory: directory, durability: .relaxed)
        try await store.createBucket("flat")
        try await store.createBucket("folders")
        print("keys      listing                          ms/page   entries/s")
        var filled = 0
        for size in sizes.split(separator: ",").compactMap({ Int($0) }) {
            try await fill(store, from: filled, to: size)
            filled = size
            let perFolder = size / Self.folders
            let figures: [(String, String, String, String?)] = [
                ("flat, first page", "flat", "", nil),
                ("flat, middle page", "flat", "", nil),
                ("1000 folders (delimiter /)", "folders", "", "/"),
                ("one folder's prefix", "folders", Self.folder(Self.folders / 2), nil),
            ]
            for (name, bucket, prefix, delimiter) in figures {
                let after = name.hasSuffix("middle page") ? Self.flatKey(size / 2) : ""
                var times: [Duration] = []
                var entries = 0
                for _ in 0..<pages {
                    let start = ContinuousClock.now
                    let page = try await store.list(
                        bucket: bucket,
                        prefix: prefix,
                        delimiter: delimiter,
                        after: after,
                        maxKeys: 1000
                    )
                    times.append(start.duration(to: .now))
                    entries = page.contents.count + page.commonPrefixes.count
                }
                let median = times.sorted()[times.count / 2]
                let milliseconds =
                    Double(median.components.attoseconds) / 1e15 + Double(median.components.seconds) * 1e3
                let label = name.padding(toLength: 32, withPad: " ", startingAt: 0)
                print(
                    String(
                        format: "%-9d %@ %8.2f  %10.0f",
                        size,
                        label,
                        milliseconds,
                        Double(entries) / milliseconds * 1000
                    )
                        + (prefix.isEmpty ? "" : "  (\(perFolder) keys)")
                )
            }
        }
    }

    /// Adds keys `from..<to` to both buckets: `flat` gets `k0000000…`, `folders` spreads them
    /// over 1 000 folders.
    private func fill(_ store: ObjectStore, from: Int, to: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in stride(from: from + worker, to: to, by: 8) {
                        for (bucket, key) in [("flat", Self.flatKey(index)), ("folders", Self.folderKey(index))] {
                            _ = try await store.put(
                                PutRequest(bucket: bucket, key: key),
                                body: AsyncStream<ByteBuffer> { $0.finish() }
                            )
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    static func flatKey(_ index: Int) -> String { "k" + String(format: "%08d", index) }
    static func folder(_ number: Int) -> String { String(format: "f%04d/", number) }
    static func folderKey(_ index: Int) -> String {
        folder(index % folders) + String(format: "k%08d", index / folders)
    }
}
