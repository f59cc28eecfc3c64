import ArgumentParser
import Foundation
import PalisadeClient
import PalisadeIDs

#if canImport(Glibc)
import Glibc
#endif

/// `palisade bench ids --count N`: ids per second and CPU time per id of the server's id generator
/// (libuuid) beside Foundation's `UUID()` and the standard library's random generator (the
/// client's write ids), in one run.
struct IDBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ids",
        abstract: "Random ids: libuuid (the server's) beside Foundation's UUID and the standard library's generator."
    )

    @Option(help: "Ids per generator.")
    var count = 1_000_000

    @Option(help: "all, libuuid, foundation or stdlib.")
    var generator = "all"

    func validate() throws {
        guard (1...100_000_000).contains(count) else { throw ValidationError("--count is 1 to 100000000") }
        guard ["all", "libuuid", "foundation", "stdlib"].contains(generator) else {
            throw ValidationError("--generator is all, libuuid, foundation or stdlib")
        }
    }

    func run() {
        let generators: [(key: String, name: String, generate: () -> String)] = [
            ("libuuid", "libuuid (uuid_generate_random)", RandomUUID.hex),
            ("foundation", "Foundation UUID()", { UUID().uuidString }),
            ("stdlib", "SystemRandomNumberGenerator", ObjectClient.newWriteID),
        ]
        print("generator                         ids/s        CPU ns/id")
        for (key, name, generate) in generators where generator == "all" || generator == key {
            var checksum = 0
            let cpuStart = Self.processCPUNanoseconds()
            let start = ContinuousClock.now
            for _ in 0..<count { checksum &+= generate().utf8.count }
            let elapsed = start.duration(to: .now)
            let cpu = Self.processCPUNanoseconds() - cpuStart
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let padded = name.padding(toLength: 32, withPad: " ", startingAt: 0)
            print(
                "\(padded) \(String(format: "%10.0f", Double(count) / seconds))   \(cpu / count)  (\(checksum / count) chars)"
            )
        }
    }

    static func processCPUNanoseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }
}
