import ArgumentParser
import Dispatch
import NIOCore
import NIOPosix
import PalisadeHTTP

/// `palisade`: the server and its command-line client.
@main
struct PalisadeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "palisade",
        abstract: "Locks with fencing tokens in front of S3-compatible object storage.",
        version: palisadeVersion,
        subcommands: [ServeCommand.self, LockCommand.self, BenchCommand.self]
    )

    /// Runs Swift Concurrency's jobs on NIO's event loops, so that a request's handler, its
    /// storage calls and its response stay on one thread instead of hopping between two pools.
    ///
    /// The entry point is synchronous: the main thread waits for the command rather than handing
    /// itself to libdispatch (an `async` main ends in `dispatch_main`, which valgrind 3.19 cannot
    /// run — and `Benchmarks/cost` counts the server's instructions under valgrind). The command runs
    /// detached: the main actor's queue is never drained here.
    static func main() {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            await main(nil)
            finished.signal()
        }
        finished.wait()
    }
}

/// A duration on the command line: `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds.
struct DurationArgument: ExpressibleByArgument, Equatable {
    var duration: Duration

    init(_ duration: Duration) { self.duration = duration }

    init?(argument: String) {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where argument.hasSuffix(suffix) {
            guard let value = Double(argument.dropLast(suffix.count)), value >= 0 else { return nil }
            duration = .milliseconds(Int64(value * Double(milliseconds)))
            return
        }
        guard let seconds = Double(argument), seconds >= 0 else { return nil }
        duration = .milliseconds(Int64(seconds * 1000))
    }

    var defaultValueDescription: String { "\(duration)" }
}
