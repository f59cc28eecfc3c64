import StorageEngine
import Synchronization

/// Holds one write at its commit point — after the checks made when it arrived, before its commit
/// transaction — while a test changes the world (a lease ends, another holder writes).
///
/// Give ``hook`` to the server as its `beforeCommit`, then call ``holding(_:write:meanwhile:)``.
public final class CommitGate: Sendable {
    private struct Hold: Sendable {
        let path: String
        let arrived: AsyncStream<Void>.Continuation
        let release: AsyncStream<Void>
    }

    private let hold = Mutex<Hold?>(nil)

    public init() {}

    /// The store's commit hook: holds the armed write, lets every other one pass.
    public var hook: ObjectStore.CommitHook {
        { [self] bucket, key in
            let held = hold.withLock { hold -> Hold? in
                guard let armed = hold, armed.path == "\(bucket)/\(key)" else { return nil }
                hold = nil
                return armed
            }
            guard let held else { return }
            held.arrived.yield()
            for await _ in held.release { break }
        }
    }

    /// What became of the held write.
    public struct Outcome<T: Sendable>: Sendable {
        /// Whether the write reached its commit point (false: it was refused before, on arrival).
        public var reachedCommit: Bool
        public var result: T
    }

    /// Starts `write`, holds its commit of `bucket/key` (`path`), runs `meanwhile`, then lets the
    /// write commit and returns its result.
    public func holding<T: Sendable>(
        _ path: String,
        write: @escaping @Sendable () async throws -> T,
        meanwhile: () async throws -> Void
    ) async throws -> Outcome<T> {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Void.self)
        let (release, letGo) = AsyncStream.makeStream(of: Void.self)
        hold.withLock { $0 = Hold(path: path, arrived: arrived, release: release) }
        let writer = Task {
            defer { arrived.finish() }
            return try await write()
        }
        var reachedCommit = false
        for await _ in arrivals {
            reachedCommit = true
            break
        }
        hold.withLock { $0 = nil }
        do {
            if reachedCommit { try await meanwhile() }
        } catch {
            letGo.finish()
            _ = try? await writer.value
            throw error
        }
        letGo.finish()
        return Outcome(reachedCommit: reachedCommit, result: try await writer.value)
    }
}
