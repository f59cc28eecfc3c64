import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The live progress line of a running benchmark on standard error: operations so far and the
/// rate of the last interval, rewritten in place on a terminal (one line a second otherwise), and
/// erased when the run ends so the result table stays clean.
final class BenchProgress: Sendable {
    private let completed = Atomic<Int>(0)

    /// Counts finished operations.
    func record(_ count: Int = 1) {
        completed.add(count, ordering: .relaxed)
    }

    var count: Int { completed.load(ordering: .relaxed) }

    /// Runs `body` while a task reports its progress as `label: N unit, R unit/s`.
    static func reporting<Result>(
        _ label: String,
        unit: String,
        _ body: (BenchProgress) async throws -> Result
    ) async throws -> Result {
        let progress = BenchProgress()
        let onTerminal = isatty(STDERR_FILENO) == 1
        let reporter = Task {
            let interval: Duration = onTerminal ? .milliseconds(250) : .seconds(1)
            let start = ContinuousClock.now
            var last = (at: start, count: 0)
            while true {
                do { try await Task.sleep(for: interval) } catch { break }
                let now = ContinuousClock.now
                let count = progress.count
                let rate = Double(count - last.count) / last.at.duration(to: now).inSeconds
                let line = String(
                    format: "%@: %.1f s, %d %@, %.0f %@/s",
                    label,
                    start.duration(to: now).inSeconds,
                    count,
                    unit,
                    rate,
                    unit
                )
                FileHandle.standardError.write(Data((onTerminal ? "\r\u{1B}[K" + line : line + "\n").utf8))
                last = (now, count)
            }
            if onTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
        defer { reporter.cancel() }
        let result = try await body(progress)
        reporter.cancel()
        await reporter.value
        return result
    }
}

extension Duration {
    /// The duration in seconds.
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
