import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a command as a child process that inherits standard input, output and error.
///
/// The child is spawned with `posix_spawn` attributes that empty its signal mask and reset every
/// signal to its default action. Foundation's `Process` does not, and a child spawned from a
/// concurrency thread then inherits that thread's blocked signals and cannot be stopped with SIGTERM.
enum ChildProcess {
    /// Runs `arguments` (searched on `PATH`) with `environment` added to this process's, and
    /// returns its exit status (128 + the signal when a signal ended it, 127 when it cannot start).
    /// Cancelling the calling task sends the child SIGTERM and still waits for it to exit.
    static func run(_ arguments: [String], environment: [String: String]) async -> Int32 {
        guard let pid = spawn(arguments, environment: environment) else { return 127 }
        return await withTaskCancellationHandler {
            await exitStatus(of: pid)
        } onCancel: {
            kill(pid, SIGTERM)
        }
    }

    /// Waits for the child `pid` to exit and returns its status.
    static func exitStatus(of pid: pid_t) async -> Int32 {
        await withCheckedContinuation { continuation in
            // waitpid blocks, so it runs on a thread of its own rather than a concurrency thread.
            Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: exitStatus(fromWaitStatus: status))
            }.start()
        }
    }

    /// Starts `arguments` (searched on `PATH`) with `environment` added to this process's; with
    /// `quiet`, its standard output goes to /dev/null.
    static func spawn(_ arguments: [String], environment: [String: String], quiet: Bool = false) -> pid_t? {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var catchableSignals = sigset_t()
        sigfillset(&catchableSignals)
        sigdelset(&catchableSignals, SIGKILL)
        sigdelset(&catchableSignals, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &catchableSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let variables = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { "\($0)=\($1)" }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if quiet { posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) }
        var pid = pid_t()
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            FileHandle.standardError.write(
                Data("palisade: cannot run \(arguments[0]): \(String(cString: strerror(result)))\n".utf8)
            )
            return nil
        }
        return pid
    }

    /// The shell's convention: the exit code, or 128 + the signal that ended the process.
    static func exitStatus(fromWaitStatus status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
