public import PalisadeProtocol
import Synchronization

/// A lease that the client keeps alive in the background, after etcd's `concurrency.Session`.
///
/// The client treats the lease as lost at its **client-side deadline**: the time the last successful
/// keep-alive was *sent*, plus the remaining TTL the server answered, minus the safety margin
/// (``safetyMargin(ttl:)``). Measuring from the send time (not the answer's arrival) and subtracting
/// the margin means the client gives up before the server can expire the lease, whatever the
/// network delay. Past that deadline ``withLease(ttl:_:)`` cancels its body.
public struct LockSession: Sendable {
    final class State: Sendable {
        let deadline: Mutex<ContinuousClock.Instant>

        init(deadline: ContinuousClock.Instant) { self.deadline = Mutex(deadline) }
    }

    /// The lease's id.
    public let leaseID: LeaseID
    /// The TTL the lease was granted with.
    public let ttl: Duration
    let client: LockClient
    let state: State

    /// The margin kept between the client-side deadline and the server's: a tenth of the TTL, at least 250 ms.
    public static func safetyMargin(ttl: Duration) -> Duration { max(ttl / 10, .milliseconds(250)) }

    /// When the client will consider the lease lost unless a keep-alive succeeds first.
    public var expiresAt: ContinuousClock.Instant { state.deadline.withLock { $0 } }

    /// Whether the client still considers the lease alive.
    public var isAlive: Bool { ContinuousClock.now < expiresAt }

    /// Acquires `name` under this session's lease; gives up with `LeaseLost` at the client-side deadline.
    public func acquire(
        _ name: LockName,
        mode: LockMode = .exclusive,
        wait: Duration
    ) async throws(LockClientError) -> LockGrant {
        let answer = try await beforeDeadline { [client, leaseID] () async throws(LockClientError) in
            try await client.acquire(name, lease: leaseID, mode: mode, wait: wait)
        }
        return LockGrant(name: answer.name, token: answer.token, mode: answer.mode, leaseID: leaseID, session: self)
    }

    /// Releases a grant of this session; gives up with `LeaseLost` at the client-side deadline.
    public func release(_ grant: LockGrant) async throws(LockClientError) {
        _ = try await beforeDeadline { [client, leaseID] () async throws(LockClientError) in
            try await client.release(grant.name, lease: leaseID, token: grant.token)
        }
    }

    /// Runs `call`, a request made for this lease, until it answers or the client-side deadline
    /// passes (the deadline moves on with each keep-alive), whatever the network does: a call whose
    /// connection stalls is then cancelled and left behind, and this throws `LeaseLost`.
    func beforeDeadline<T: Sendable>(
        _ call: @escaping @Sendable () async throws(LockClientError) -> T
    ) async throws(LockClientError) -> T {
        let outcome = DeadlineRace<T>()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                outcome.start(continuation)
                let work = Task {
                    do throws(LockClientError) {
                        outcome.finish(.success(try await call()))
                    } catch {
                        outcome.finish(.failure(error))
                    }
                }
                let watch = Task { [self] in
                    while !Task.isCancelled {
                        let deadline = expiresAt
                        guard ContinuousClock.now < deadline else {
                            return outcome.finish(.failure(lostAtDeadline))
                        }
                        try? await Task.sleep(until: deadline, clock: .continuous)
                    }
                }
                outcome.onFinish {
                    work.cancel()
                    watch.cancel()
                }
            }
        } onCancel: {
            outcome.finish(
                .failure(LockClientError(code: LockClientError.cancelledCode, message: "the call was cancelled"))
            )
        }
        return try result.get()
    }

    private var lostAtDeadline: LockClientError {
        LockClientError(
            code: LockClientError.leaseLostCode,
            message: "no keep-alive of lease \(leaseID) succeeded before its client-side deadline"
        )
    }

    /// Renews the lease a third of its TTL after the last renewal was sent, and never later than a
    /// third of the TTL before the client-side deadline (a grant that took long to answer leaves
    /// less time), until the task is cancelled; returns the reason as soon as the lease is lost.
    /// A keep-alive unanswered after a quarter of the TTL is sent to the next gateway, so a lease
    /// outlives its gateway's death or stall while another gateway answers in time.
    func keepAlive() async -> LockClientError? {
        let margin = Self.safetyMargin(ttl: ttl)
        var nextRenewal = min(ContinuousClock.now + ttl / 3, expiresAt - ttl / 3)
        while true {
            do {
                try await Task.sleep(until: min(nextRenewal, expiresAt), clock: .continuous)
            } catch {
                return nil
            }
            guard isAlive else { return lostAtDeadline }
            let sentAt = ContinuousClock.now
            do {
                let answer = try await beforeDeadline { [client, leaseID, ttl] () async throws(LockClientError) in
                    try await client.keepAlive(
                        leaseID,
                        attemptTimeout: min(ttl / 4, client.configuration.requestTimeout)
                    )
                }
                let deadline = sentAt + .milliseconds(answer.remainingMilliseconds) - margin
                state.deadline.withLock { $0 = deadline }
                nextRenewal = min(sentAt + ttl / 3, deadline - ttl / 3)
            } catch  where error.code == LockAPIErrorCode.leaseNotFound {
                return LockClientError(
                    code: LockClientError.leaseLostCode,
                    message: "the server no longer has lease \(leaseID)"
                )
            } catch  where error.code == LockClientError.leaseLostCode {
                return error
            } catch {
                if Task.isCancelled { return nil }
                nextRenewal = ContinuousClock.now + min(ttl / 12, .seconds(1))
            }
        }
    }
}

/// A lock held by a ``LockSession``: its fencing token, and the headers that carry the token to the
/// storage gateway.
public struct LockGrant: Sendable {
    public let name: LockName
    /// The fencing token; writes carrying a lower token for this lock are rejected by the gateway.
    public let token: FencingToken
    public let mode: LockMode
    public let leaseID: LeaseID
    let session: LockSession

    /// `x-palisade-lock` and `x-palisade-fencing-token`, to add to every write made under this lock.
    public var fencingHeaders: [(name: String, value: String)] {
        [(PalisadeHeaders.lock, name.rawValue), (PalisadeHeaders.fencingToken, token.description)]
    }

    /// Whether the client still considers the lease, and so this grant, alive.
    public var isAlive: Bool { session.isAlive }
}

extension LockClient {
    private enum SessionEvent<T: Sendable>: Sendable {
        case finished(T)
        case lost(LockClientError)
    }

    /// Grants a lease, keeps it alive while `body` runs, and revokes it afterwards (also when
    /// `body` throws or is cancelled), which releases every lock taken under it.
    ///
    /// When the lease is lost (the server says so, or no keep-alive succeeds before the client-side
    /// deadline), `body`'s task is cancelled and this throws `LeaseLost` once `body` returns.
    public func withLease<T: Sendable>(
        ttl: Duration,
        _ body: @escaping @Sendable (LockSession) async throws -> T
    ) async throws -> T {
        let sentAt = ContinuousClock.now
        let lease = try await grantLease(ttl: ttl)
        let session = LockSession(
            leaseID: lease.leaseID,
            ttl: ttl,
            client: self,
            state: .init(
                deadline: sentAt + .milliseconds(lease.remainingMilliseconds) - LockSession.safetyMargin(ttl: ttl)
            )
        )
        do {
            let value = try await withThrowingTaskGroup(of: SessionEvent<T>.self) { group in
                group.addTask {
                    if let lost = await session.keepAlive() { return .lost(lost) }
                    throw CancellationError()
                }
                group.addTask { .finished(try await body(session)) }
                let first = try await group.next()!
                group.cancelAll()
                switch first {
                case .finished(let value): return value
                case .lost(let error): throw error
                }
            }
            await revokeForCleanup(session)
            return value
        } catch {
            await revokeForCleanup(session)
            throw error
        }
    }

    /// Takes `name` under a fresh lease, runs `body` while holding it, and releases it on exit
    /// (normal, thrown or cancelled). `body`'s task is cancelled when the lease is lost.
    ///
    /// ```swift
    /// try await client.withLock("orders/2026/42") { lock in
    ///     try await put(object, headers: lock.fencingHeaders)
    /// }
    /// ```
    /// - Parameters:
    ///   - ttl: the lease's TTL; the lease is renewed every third of it.
    ///   - wait: how long to wait in the lock's queue.
    public func withLock<T: Sendable>(
        _ name: LockName,
        ttl: Duration = .seconds(10),
        wait: Duration = .seconds(30),
        mode: LockMode = .exclusive,
        _ body: @escaping @Sendable (LockGrant) async throws -> T
    ) async throws -> T {
        try await withLease(ttl: ttl) { session in
            let grant = try await session.acquire(name, mode: mode, wait: wait)
            return try await body(grant)
        }
    }

    /// Revokes a session's lease whatever the caller's cancellation state: cleanup must reach the
    /// server even when the caller was cancelled, so it runs in a task of its own that is awaited
    /// here, and no longer than until the server would expire the lease anyway (its client-side
    /// deadline plus the safety margin): a stalled network does not hold the caller up.
    private func revokeForCleanup(_ session: LockSession) async {
        let cleanup = LockSession(
            leaseID: session.leaseID,
            ttl: session.ttl,
            client: self,
            state: .init(deadline: session.expiresAt + LockSession.safetyMargin(ttl: session.ttl))
        )
        await Task {
            _ = try? await cleanup.beforeDeadline { () async throws(LockClientError) in
                try await self.revokeLease(session.leaseID)
            }
        }.value
    }
}

/// The outcome of a call raced against a deadline: the first of the two to finish resumes the
/// caller, once; the loser is cancelled.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<T, LockClientError>, Never>?
        var early: Result<T, LockClientError>?
        var cleanup: (@Sendable () -> Void)?
        var isFinished = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<Result<T, LockClientError>, Never>) {
        let early = state.withLock { state -> Result<T, LockClientError>? in
            if state.isFinished { return state.early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
        let finished = state.withLock { state -> Bool in
            if state.isFinished { return true }
            state.cleanup = cleanup
            return false
        }
        if finished { cleanup() }
    }

    func finish(_ result: Result<T, LockClientError>) {
        let (continuation, cleanup) = state.withLock {
            state -> (CheckedContinuation<Result<T, LockClientError>, Never>?, (@Sendable () -> Void)?) in
            guard !state.isFinished else { return (nil, nil) }
            state.isFinished = true
            if state.continuation == nil { state.early = result }
            defer {
                state.continuation = nil
                state.cleanup = nil
            }
            return (state.continuation, state.cleanup)
        }
        continuation?.resume(returning: result)
        cleanup?()
    }
}
