import Foundation
import Synchronization

/// Runs a command as a child process that inherits standard input, output and error.
enum ChildProcess {
    /// Runs `arguments` (searched on `PATH`) with `environment` added to this process's, and
    /// returns its exit status (128 + signal when it was killed). Cancelling the calling task sends
    /// the child SIGTERM and still waits for it to exit.
    static func run(_ arguments: [String], environment: [String: String]) async -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let exited = Mutex<CheckedContinuation<Int32, Never>?>(nil)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                exited.withLock { $0 = continuation }
                process.terminationHandler = { process in
                    let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
                    exited.withLock { $0.take() }?.resume(returning: status)
                }
                do {
                    try process.run()
                    if Task.isCancelled { process.terminate() }
                } catch {
                    FileHandle.standardError.write(Data("palisade: cannot run \(arguments[0]): \(error)\n".utf8))
                    exited.withLock { $0.take() }?.resume(returning: 127)
                }
            }
        } onCancel: {
            if process.isRunning { process.terminate() }
        }
    }
}
