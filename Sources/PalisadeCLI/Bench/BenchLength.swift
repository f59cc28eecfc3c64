/// How long each run of a benchmark lasts: a time, or a fixed number of operations per client —
/// a workload that is the same from one run to the next, as counting instructions needs
/// (`Benchmarks/cost`).
enum BenchLength: Sendable, Equatable, CustomStringConvertible {
    case duration(Duration)
    case operationsPerClient(Int)

    /// Whether a client that has done `count` operations, `elapsed` into the run, stops.
    func isOver(after count: Int, elapsed: Duration) -> Bool {
        switch self {
        case .duration(let duration): elapsed >= duration
        case .operationsPerClient(let operations): count >= operations
        }
    }

    var description: String {
        switch self {
        case .duration(let duration): "\(duration) per run"
        case .operationsPerClient(let operations): "\(operations) operations per client"
        }
    }
}
