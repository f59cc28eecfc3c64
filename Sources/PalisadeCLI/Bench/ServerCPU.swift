import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The CPU time a server process and its children (nginx's workers) have used, from `/proc`, so
/// a benchmark can report the server's CPU time per operation beside its ops/s — a figure that
/// moves less than throughput when this VM's speed swings — and the load generator's beside it.
struct ServerCPU {
    let pid: pid_t

    /// User and system seconds of the process and all its descendants; nil once it is gone.
    func seconds() -> Double? {
        var parents: [pid_t: pid_t] = [:]
        var ticks: [pid_t: Int] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let process = pid_t(entry), let stat = Self.stat(of: process) else { continue }
            parents[process] = stat.parent
            ticks[process] = stat.ticks
        }
        guard ticks[pid] != nil else { return nil }
        var total = 0
        for (process, used) in ticks where Self.descends(process, from: pid, parents: parents) { total += used }
        return Double(total) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU microseconds per operation of a run: the server's (nil without a server process) and the
    /// load generator's, this process's own. Where both share the machine's cores, their sum bounds
    /// the throughput.
    struct Charge {
        var server: Double?
        var generator: Double?

        /// The two figures as a table's last columns, right-aligned in `widths`.
        func columns(widths: (server: Int, generator: Int)) -> String {
            func column(_ value: Double?, _ width: Int) -> String {
                (value.map { String(format: "%.1f", $0) } ?? "-").leftPadded(to: width)
            }
            return column(server, widths.server) + column(generator, widths.generator)
        }
    }

    /// Runs `body`, and returns its result with the CPU time per operation it took (`operations`
    /// reads the count from the result).
    static func charge<Result>(
        _ server: ServerCPU?,
        operations: (Result) -> Int,
        _ body: () async throws -> Result
    ) async rethrows -> (Result, Charge) {
        let before = (server: server?.seconds(), generator: generatorSeconds())
        let result = try await body()
        let count = Double(operations(result))
        guard count > 0 else { return (result, Charge()) }
        let generator = (generatorSeconds() - before.generator) * 1e6 / count
        guard let serverBefore = before.server, let serverAfter = server?.seconds() else {
            return (result, Charge(server: nil, generator: generator))
        }
        return (result, Charge(server: (serverAfter - serverBefore) * 1e6 / count, generator: generator))
    }

    /// The user and system seconds this process (the load generator) has used.
    private static func generatorSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    private static func descends(_ process: pid_t, from ancestor: pid_t, parents: [pid_t: pid_t]) -> Bool {
        var current = process
        for _ in 0..<64 {
            if current == ancestor { return true }
            guard let parent = parents[current], parent > 0 else { return false }
            current = parent
        }
        return false
    }

    /// The parent and the user + system clock ticks of `/proc/PID/stat` (fields 4, 14 and 15; the
    /// command name, field 2, may hold spaces and ends at the last `)`).
    private static func stat(of process: pid_t) -> (parent: pid_t, ticks: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(process)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the name: state (3), parent (4), … utime (14), stime (15).
        guard fields.count > 12, let parent = pid_t(fields[1]), let user = Int(fields[11]), let system = Int(fields[12])
        else { return nil }
        return (parent, user + system)
    }
}
