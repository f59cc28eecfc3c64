import ArgumentParser
import Testing

@testable import PalisadeCLI

@Suite("palisade command-line parsing")
struct PalisadeCommandTests {
    @Test("serve has the documented defaults")
    func serveDefaults() throws {
        let command = try #require(try PalisadeCommand.parseAsRoot(["serve"]) as? ServeCommand)
        #expect(command.dataDir == "./palisade-data")
        #expect(command.host == "127.0.0.1")
        #expect(command.port == 9000)
        #expect(command.accessKey == nil && command.secretKey == nil)
        #expect(command.lockDelay == DurationArgument(.seconds(1)))
    }

    @Test("serve takes a durability and a virtual-host domain, and refuses unknown durabilities")
    func serveOptions() throws {
        let command = try #require(
            try PalisadeCommand.parseAsRoot(["serve", "--durability", "relaxed", "--domain", "s3.local"])
                as? ServeCommand
        )
        #expect(command.durability == "relaxed" && command.domain == "s3.local")
        #expect(throws: (any Error).self) { try PalisadeCommand.parseAsRoot(["serve", "--durability", "sometimes"]) }
    }

    @Test("bench gateway parses sizes and client counts, and refuses bad ones")
    func benchGateway() throws {
        let command = try #require(
            try PalisadeCommand.parseAsRoot([
                "bench", "gateway", "--op", "get", "--size", "64MiB", "--clients", "1,16,64",
            ])
                as? GatewayBenchCommand
        )
        #expect(command.clientCounts == [1, 16, 64])
        #expect(GatewayBenchCommand.bytes("64MiB") == 64 << 20 && GatewayBenchCommand.bytes("4096") == 4096)
        #expect(throws: (any Error).self) { try PalisadeCommand.parseAsRoot(["bench", "gateway", "--op", "scan"]) }
        #expect(throws: (any Error).self) { try PalisadeCommand.parseAsRoot(["bench", "gateway", "--size", "big"]) }
    }

    @Test("bench locks parses its mode, and Jain's fairness index is 1 for equal shares and 1/n for one winner")
    func benchLocks() throws {
        let command = try #require(
            try PalisadeCommand.parseAsRoot(["bench", "locks", "--mode", "mixed"]) as? LocksBenchCommand
        )
        #expect(command.clientCounts == [1, 8, 64])
        #expect(throws: (any Error).self) { try PalisadeCommand.parseAsRoot(["bench", "locks", "--mode", "chaos"]) }
        #expect(jainIndex([5, 5, 5, 5]) == 1)
        #expect(jainIndex([8, 0, 0, 0]) == 0.25)
    }

    @Test("bench contention takes writer counts and refuses an empty list")
    func benchContention() throws {
        let command = try #require(
            try PalisadeCommand.parseAsRoot(["bench", "contention", "--writers", "2,8,32", "--duration", "10s"])
                as? ContentionBenchCommand
        )
        #expect(command.writerCounts == [2, 8, 32] && command.options.duration == DurationArgument(.seconds(10)))
        #expect(throws: (any Error).self) {
            try PalisadeCommand.parseAsRoot(["bench", "contention", "--writers", "none"])
        }
    }

    @Test("serve refuses an access key without a secret key")
    func serveKeysGoTogether() {
        #expect(throws: (any Error).self) { try PalisadeCommand.parseAsRoot(["serve", "--access-key", "K"]) }
    }

    @Test("lock run takes a name, options and the command after --")
    func lockRun() throws {
        let command = try #require(
            try PalisadeCommand.parseAsRoot([
                "lock", "run", "jobs/nightly", "--ttl", "5s", "--wait", "1m", "--shared", "--", "echo",
                "--not-an-option",
            ])
                as? RunCommand
        )
        #expect(command.name == "jobs/nightly")
        #expect(command.ttl == DurationArgument(.seconds(5)))
        #expect(command.wait == DurationArgument(.seconds(60)))
        #expect(command.shared)
        #expect(command.command == ["echo", "--not-an-option"])
        #expect(throws: (any Error).self) { try PalisadeCommand.parseAsRoot(["lock", "run", "x"]) }
    }

    @Test(
        "durations",
        arguments: [("250ms", 250), ("10s", 10_000), ("1.5s", 1500), ("2m", 120_000), ("1h", 3_600_000), ("7", 7000)]
    )
    func durations(text: String, milliseconds: Int64) {
        #expect(DurationArgument(argument: text)?.duration == .milliseconds(milliseconds))
    }

    @Test("bad durations are refused", arguments: ["", "s", "-1s", "ten", "5 s"])
    func badDurations(text: String) {
        #expect(DurationArgument(argument: text) == nil)
    }
}
