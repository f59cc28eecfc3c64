import ArgumentParser
import AsyncHTTPClient
import Foundation
import PalisadeClient
import PalisadeProtocol

/// `palisade lock …`: the command-line lock client. Reads `PALISADE_ENDPOINT`,
/// `PALISADE_ACCESS_KEY`, `PALISADE_SECRET_KEY` and `PALISADE_CA_FILE`.
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Take, inspect and free locks.",
        subcommands: [RunCommand.self, StatusCommand.self, ForceReleaseCommand.self]
    )

    /// Exit status when the lock could not be acquired in time.
    static let notAcquiredStatus: Int32 = 75
    /// Exit status when the lease was lost while the command ran (the command was signalled).
    static let leaseLostStatus: Int32 = 76

    static func client(transport: LockClient.Transport = .http) -> LockClient {
        var configuration = LockClient.Configuration.fromEnvironment(ProcessInfo.processInfo.environment)
        configuration.transport = transport
        return LockClient(configuration: configuration, httpClient: httpClient)
    }

    /// The shared HTTP client, or one that trusts `PALISADE_CA_FILE` when that is set (kept for
    /// the process's life).
    static let httpClient: HTTPClient =
        LockClient.Configuration.fromEnvironment(ProcessInfo.processInfo.environment).tlsConfiguration.map {
            LockClient.makeHTTPClient(connectTimeout: LockClient.connectTimeout, tlsConfiguration: $0)
        } ?? LockClient.sharedHTTPClient

    static func parseName(_ text: String) throws -> LockName {
        guard let name = LockName(rawValue: text) else {
            throw ValidationError(LockName.validationFailure(text) ?? "invalid lock name")
        }
        return name
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// `palisade lock run NAME -- CMD ARGS…`, like `etcdctl lock` and `flock`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Hold a lock while a command runs.",
        discussion: """
            The command sees PALISADE_LOCK, PALISADE_FENCING_TOKEN and PALISADE_LEASE. palisade exits \
            with the command's status; with \(LockCommand.notAcquiredStatus) when the lock was not acquired \
            within --wait; with \(LockCommand.leaseLostStatus) when the lease was lost while the command ran \
            (the command gets SIGTERM first).
            """
    )

    @Argument(help: "The lock's name.")
    var name: String

    @Option(help: "Lease TTL; the lease is renewed every third of it.")
    var ttl = DurationArgument(.seconds(10))

    @Option(help: "How long to wait for the lock.")
    var wait = DurationArgument(.seconds(30))

    @Flag(help: "Take the lock in shared (read) mode.")
    var shared = false

    @Flag(help: "Talk to the server over one lock session (a WebSocket) rather than an HTTP request per call.")
    var session = false

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        _ = try LockCommand.parseName(name)
        if command.isEmpty { throw ValidationError("give the command to run after --") }
    }

    func run() async throws {
        let name = try LockCommand.parseName(name)
        let command = command
        let status: Int32
        do {
            status = try await LockCommand.client(transport: session ? .session : .http).withLock(
                name,
                ttl: ttl.duration,
                wait: wait.duration,
                mode: shared ? .shared : .exclusive
            ) { grant in
                await ChildProcess.run(
                    command,
                    environment: [
                        "PALISADE_LOCK": grant.name.rawValue, "PALISADE_FENCING_TOKEN": grant.token.description,
                        "PALISADE_LEASE": grant.leaseID.rawValue,
                    ]
                )
            }
        } catch let error as LockClientError
            where error.code == LockAPIErrorCode.waitTimeout || error.code == LockAPIErrorCode.lockHeld
        {
            FileHandle.standardError.write(Data("palisade: lock '\(name)' not acquired: \(error.message)\n".utf8))
            throw ExitCode(LockCommand.notAcquiredStatus)
        } catch let error as LockClientError where error.code == LockClientError.leaseLostCode {
            FileHandle.standardError.write(Data("palisade: lease lost while running: \(error.message)\n".utf8))
            throw ExitCode(LockCommand.leaseLostStatus)
        }
        throw ExitCode(status)
    }
}

/// `palisade lock status NAME`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show who holds a lock and who waits."
    )

    @Argument(help: "The lock's name.")
    var name: String

    func run() async throws {
        try LockCommand.printJSON(try await LockCommand.client().status(try LockCommand.parseName(name)))
    }
}

/// `palisade lock force-release NAME`.
struct ForceReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "force-release",
        abstract: "Free a lock from all holders (operator action; the lock-delay follows)."
    )

    @Argument(help: "The lock's name.")
    var name: String

    func run() async throws {
        try LockCommand.printJSON(try await LockCommand.client().forceRelease(try LockCommand.parseName(name)))
    }
}
