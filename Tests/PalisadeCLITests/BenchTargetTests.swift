import NIOCore
import PalisadeTestSupport
import Synchronization
import Testing

@testable import PalisadeCLI

/// A lock service that grants every acquire at once, hands out the tokens it is told to, and moves
/// the benchmark's clock forward by a millisecond with every release.
struct ScriptedLockTarget: LockBenchTarget {
    final class Script: Sendable {
        let tokens: Mutex<[UInt64]>
        init(_ tokens: [UInt64]) { self.tokens = Mutex(tokens) }
    }

    let script: Script
    let issuesFencingTokens: Bool
    let clock: ManualClock
    var name: String { "scripted" }

    init(tokens: [UInt64]?, clock: ManualClock) {
        self.script = Script(tokens ?? [])
        self.issuesFencingTokens = tokens != nil
        self.clock = clock
    }

    func withSession<Result: Sendable>(_ body: (Script) async throws -> Result) async throws -> Result {
        try await body(script)
    }

    func acquire(_ lock: String, in session: Script) async throws -> (holding: Void, token: UInt64?) {
        guard issuesFencingTokens else { return ((), nil) }
        return ((), session.tokens.withLock { $0.isEmpty ? UInt64.max : $0.removeFirst() })
    }

    func release(_ lock: String, _ holding: Void, in session: Script) async throws {
        clock.advance(by: .milliseconds(1))
    }

    func keepAlive(_ session: Script) async throws {}
}

@Suite("benchmark targets")
struct BenchTargetTests {
    @Test("RESP replies parse whole or not at all, including nested arrays and nil bulk strings")
    func respParsing() throws {
        var buffer = ByteBuffer(string: "+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n-ERR wrong\r\n*2\r\n$1\r\na\r\n:7\r\n")
        #expect(try RedisConnection.parse(&buffer) == .simple("OK"))
        #expect(try RedisConnection.parse(&buffer) == .integer(42))
        #expect(try RedisConnection.parse(&buffer) == .bulk("hello"))
        #expect(try RedisConnection.parse(&buffer) == .bulk(nil))
        #expect(try RedisConnection.parse(&buffer) == .error("ERR wrong"))
        #expect(try RedisConnection.parse(&buffer) == .array([.bulk("a"), .integer(7)]))
        #expect(try RedisConnection.parse(&buffer) == nil)
        var partial = ByteBuffer(string: "$5\r\nhel")
        #expect(try RedisConnection.parse(&partial) == nil)
        var garbage = ByteBuffer(string: "?what\r\n")
        #expect(throws: BenchError.self) { try RedisConnection.parse(&garbage) }
    }

    @Test("the lock benchmark counts tokens out of grant order, and reports none for a service without tokens")
    func tokenOrderCounter() async throws {
        func run(tokens: [UInt64]?, clients: Int) async throws -> LockBenchResult {
            let clock = ManualClock()
            let target = ScriptedLockTarget(tokens: tokens, clock: clock)
            let bench = LockBench(target: target, mode: .contended, length: .duration(.milliseconds(200)), clock: clock)
            return try await bench.run(clients: clients)
        }
        let increasing = try await run(tokens: Array(1...1_000), clients: 1)
        #expect(increasing.cycles == 200 && increasing.tokensOutOfOrder == 0)
        let decreasing = try await run(tokens: Array((1...1_000).reversed()), clients: 1)
        #expect(decreasing.cycles == 200 && decreasing.tokensOutOfOrder == 199)
        let tokenless = try await run(tokens: nil, clients: 2)
        #expect(tokenless.cycles >= 200 && tokenless.tokensOutOfOrder == nil)
    }

    @Test("the lock benchmark counts overlapping critical sections when a service grants a held lock")
    func overlapCounter() async throws {
        // The scripted service grants every acquire at once, even of a held lock.
        let clock = ManualClock()
        let bench = LockBench(
            target: ScriptedLockTarget(tokens: nil, clock: clock),
            mode: .contended,
            length: .duration(.milliseconds(200)),
            clock: clock
        )
        let result = try await bench.run(clients: 4)
        #expect(result.overlappingCriticalSections > 0, "four clients held one lock at once and none was seen")
    }

    @Test("a run of a fixed number of operations does exactly that many per client, however long they take")
    func fixedWorkload() async throws {
        let clock = ManualClock()
        let bench = LockBench(
            target: ScriptedLockTarget(tokens: nil, clock: clock),
            mode: .uncontended,
            length: .operationsPerClient(37),
            clock: clock
        )
        let result = try await bench.run(clients: 3)
        #expect(result.cycles == 3 * 37)
        #expect(BenchLength.operationsPerClient(5).isOver(after: 5, elapsed: .zero))
        #expect(!BenchLength.operationsPerClient(5).isOver(after: 4, elapsed: .seconds(3_600)))
        #expect(
            try PalisadeCommand.parseAsRoot(["bench", "gateway", "--operations", "100"]) is GatewayBenchCommand,
            "--operations is taken by the gateway benchmark"
        )
        #expect(throws: (any Error).self) {
            try PalisadeCommand.parseAsRoot(["bench", "contention", "--operations", "100"])
        }
    }

    @Test("peers need an endpoint, nginx cannot be fenced, and a Redis endpoint gives host and port")
    func peerOptions() throws {
        #expect(throws: (any Error).self) { try PalisadeCommand.parseAsRoot(["bench", "locks", "--target", "etcd"]) }
        #expect(throws: (any Error).self) { try PalisadeCommand.parseAsRoot(["bench", "locks", "--target", "zk"]) }
        #expect(throws: (any Error).self) {
            try PalisadeCommand.parseAsRoot([
                "bench", "gateway", "--target", "nginx", "--endpoint", "http://127.0.0.1:1", "--fenced",
            ])
        }
        let command = try #require(
            try PalisadeCommand.parseAsRoot(["bench", "gateway", "--fenced", "--op", "put"]) as? GatewayBenchCommand
        )
        #expect(command.fenced && command.target == "palisade")
        let address = try LocksBenchCommand.hostAndPort("redis://127.0.0.1:6379")
        #expect(address.host == "127.0.0.1" && address.port == 6379)
        #expect(throws: (any Error).self) { try LocksBenchCommand.hostAndPort("redis://nowhere") }
    }
}
