import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PalisadeAuth
import PalisadeProtocol
import Synchronization
import WSClient

/// One lock session (`Protocol/lock-sessions.md`): the lock API over a single WebSocket, signed
/// once at the upgrade. Calls are sent as messages with an id and answered by id, so any number
/// run at once on the connection. The connection is opened, to the current gateway of the client's
/// endpoints, by the first call and again by the first call after it closed; a call in flight when
/// it closes fails with a connection error, which ``LockClient`` retries like any connection
/// failure. A call unanswered past its timeout closes the connection (a stalled gateway) and the
/// gateway is reported as failed, so the retry opens a session on the next one. The connection
/// closes when the last client holding the session goes away.
///
/// When the server refuses to open the session (a wrong key, or a proxy that does not pass
/// WebSocket upgrades on), the calls of the next ``retryAfterRefusal`` fail at once with
/// `webSocketUpgradeFailed`, without asking again, and ``LockClient`` sends them over HTTP.
final class LockSessionConnection: Sendable {
    /// How long calls go over HTTP after the server refused the session, before it is asked again.
    static let retryAfterRefusal = Duration.seconds(30)

    private let channel: LockSessionChannel
    private let refusedUntil = Mutex<ContinuousClock.Instant?>(nil)
    private let now: @Sendable () -> ContinuousClock.Instant

    /// A session with the current gateway of `endpoints` (`http://host:port`, or `https://` for
    /// `wss://`), signed by `signer`, trusting the server as `tlsConfiguration` says (nil: the
    /// system's roots); `now` tells the time for ``retryAfterRefusal``.
    init(
        endpoints: GatewayEndpoints,
        signer: SigV4Signer,
        tlsConfiguration: TLSConfiguration?,
        now: @escaping @Sendable () -> ContinuousClock.Instant
    ) {
        channel = LockSessionChannel(endpoints: endpoints, signer: signer, tlsConfiguration: tlsConfiguration)
        self.now = now
    }

    deinit { channel.cancel() }

    /// Sends one call and waits up to `timeout` for its answer.
    func call(
        _ method: String,
        _ path: String,
        query: String,
        body: Data,
        timeout: Duration
    ) async throws -> LockSessionChannel.Answer {
        if let until = refusedUntil.withLock({ $0 }), now() < until {
            throw WebSocketClientError.webSocketUpgradeFailed
        }
        do {
            return try await channel.call(method, path, query: query, body: body, timeout: timeout)
        } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
            let until = now() + Self.retryAfterRefusal
            refusedUntil.withLock { $0 = until }
            throw error
        }
    }

    /// Closes the connection; the next call opens a new one.
    func close() async {
        await channel.close()
    }
}

/// The connection of a ``LockSessionConnection``: what its running connection task holds on to.
final class LockSessionChannel: Sendable {
    /// An answer: the HTTP status and request id of the call, its body, and the gateway that gave it.
    typealias Answer = (status: Int, requestID: String, body: ByteBuffer, endpoint: String)

    /// A call waiting for the connection to open, until its deadline.
    private struct Waiting {
        var continuation: CheckedContinuation<WebSocketOutboundWriter, any Error>
        var deadline: ContinuousClock.Instant
    }

    /// A call sent and not yet answered. Its caller writes the message itself and then waits, so
    /// the answer (or the connection's failure) may come before it waits: the first outcome is
    /// kept until then, and any later one is ignored.
    private final class PendingCall: Sendable {
        let deadline: ContinuousClock.Instant
        private let state = Mutex<
            (outcome: Result<Answer, any Error>?, waiter: CheckedContinuation<Answer, any Error>?)
        >(
            (nil, nil)
        )

        init(deadline: ContinuousClock.Instant) { self.deadline = deadline }

        /// Settles the call with `outcome`, unless it is settled already.
        func settle(_ outcome: Result<Answer, any Error>) {
            let waiter = state.withLock { state -> CheckedContinuation<Answer, any Error>? in
                guard state.outcome == nil else { return nil }
                state.outcome = outcome
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(with: outcome)
        }

        /// Waits until the call is settled.
        func outcome() async throws -> Answer {
            try await withCheckedThrowingContinuation { continuation in
                let outcome = state.withLock { state -> Result<Answer, any Error>? in
                    if state.outcome == nil { state.waiter = continuation }
                    return state.outcome
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        }
    }

    private enum Link {
        case closed
        case opening([Waiting])
        case open(WebSocketOutboundWriter)
    }

    private struct State {
        var link = Link.closed
        var nextID: UInt64 = 0
        var pending: [UInt64: PendingCall] = [:]
        var connection: Task<Void, Never>?

        /// Whether a call has waited past its deadline.
        func isOverdue(at now: ContinuousClock.Instant) -> Bool {
            if case .opening(let waiters) = link, waiters.contains(where: { $0.deadline < now }) { return true }
            return pending.values.contains { $0.deadline < now }
        }
    }

    /// How often an open or opening connection looks for overdue calls.
    private static let overdueCheckInterval = Duration.milliseconds(100)

    private let endpoints: GatewayEndpoints
    private let signer: SigV4Signer
    private let state = Mutex(State())

    private let tlsConfiguration: TLSConfiguration?

    init(endpoints: GatewayEndpoints, signer: SigV4Signer, tlsConfiguration: TLSConfiguration?) {
        self.tlsConfiguration = tlsConfiguration
        self.endpoints = endpoints
        self.signer = signer
    }

    /// Ends the connection task, if one runs.
    func cancel() {
        state.withLock { $0.connection }?.cancel()
    }

    /// Sends one call and waits up to `timeout` for its answer. The caller writes its message
    /// itself, with no task in between.
    func call(_ method: String, _ path: String, query: String, body: Data, timeout: Duration) async throws -> Answer {
        let deadline = ContinuousClock.now + timeout
        let outbound = try await openLink(deadline: deadline)
        let call = PendingCall(deadline: deadline)
        // Registered only while the link is open: closing settles every registered call.
        let id = try state.withLock { state in
            guard case .open = state.link else { throw LockSessionClosed() }
            state.nextID += 1
            state.pending[state.nextID] = call
            return state.nextID
        }
        let header = LockSessionRequestHeader(id: id, method: method, path: path, query: query.isEmpty ? nil : query)
        let message = header.line + "\n" + String(decoding: body, as: UTF8.self)
        return try await withTaskCancellationHandler {
            do {
                try await outbound.write(.text(message))
            } catch {
                fail(id, error)
            }
            return try await call.outcome()
        } onCancel: {
            fail(id, CancellationError())
        }
    }

    /// Closes the connection; the next call opens a new one.
    func close() async {
        let connection = state.withLock { $0.connection }
        connection?.cancel()
        await connection?.value
    }

    private func fail(_ id: UInt64, _ error: any Error) {
        state.withLock { $0.pending.removeValue(forKey: id) }?.settle(.failure(error))
    }

    /// The open connection's writer, opening the connection when there is none.
    private func openLink(deadline: ContinuousClock.Instant) async throws -> WebSocketOutboundWriter {
        if case .open(let outbound) = state.withLock({ $0.link }) { return outbound }
        return try await withCheckedThrowingContinuation { continuation in
            let waiting = Waiting(continuation: continuation, deadline: deadline)
            let startConnection = state.withLock { state -> Bool in
                switch state.link {
                case .open(let outbound):
                    continuation.resume(returning: outbound)
                    return false
                case .opening(var waiters):
                    waiters.append(waiting)
                    state.link = .opening(waiters)
                    return false
                case .closed:
                    state.link = .opening([waiting])
                    return true
                }
            }
            if startConnection {
                let endpoint = endpoints.current
                let task = Task { await self.runConnection(to: endpoint) }
                state.withLock { $0.connection = task }
            }
        }
    }

    /// Runs one connection to `endpoint` until it closes, or until a call waits past its
    /// deadline, then fails whatever still waits on it.
    private func runConnection(to endpoint: String) async {
        var failure: any Error = LockSessionClosed()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.connect(to: endpoint) }
                group.addTask {
                    while !self.state.withLock({ $0.isOverdue(at: .now) }) {
                        try await Task.sleep(for: Self.overdueCheckInterval)
                    }
                    throw LockSessionTimedOut(endpoint: endpoint)
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            failure = error
        }
        let (waiters, pending) = state.withLock { state -> ([Waiting], [PendingCall]) in
            defer {
                state.link = .closed
                state.pending = [:]
                state.connection = nil
            }
            let waiters: [Waiting] = if case .opening(let waiters) = state.link { waiters } else { [] }
            return (waiters, Array(state.pending.values))
        }
        // A refusal is answered by the gateway (a wrong key): another gateway would refuse too.
        let refused = (failure as? WebSocketClientError) == .webSocketUpgradeFailed
        let closedWhenIdle = failure is LockSessionClosed && waiters.isEmpty && pending.isEmpty
        if !Task.isCancelled, !refused, !closedWhenIdle { endpoints.failed(endpoint) }
        for waiter in waiters { waiter.continuation.resume(throwing: failure) }
        for call in pending { call.settle(.failure(failure)) }
    }

    /// Opens the WebSocket to `endpoint` and carries messages both ways until it closes.
    private func connect(to endpoint: String) async throws {
        var additionalHeaders = HTTPFields()
        for header in signer.requestHeaders(
            method: "GET",
            path: PalisadePaths.v1 + PalisadePaths.session,
            query: "",
            host: LockClient.authority(of: endpoint),
            payloadHash: SigV4.emptyPayloadHash
        ) {
            additionalHeaders.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value))
        }
        try await WebSocketClient.connect(
            url: endpoint.replacingOccurrences(of: "http", with: "ws", options: .anchored) + PalisadePaths.v1
                + PalisadePaths.session,
            configuration: .init(
                maxFrameSize: LockSessionMessage.maximumBytes,
                additionalHeaders: additionalHeaders
            ),
            tlsConfiguration: tlsConfiguration,
            logger: Logger(label: "palisade.lock-session")
        ) { inbound, outbound, _ in
            let waiters = self.state.withLock { state -> [Waiting] in
                guard case .opening(let waiters) = state.link else { return [] }
                state.link = .open(outbound)
                return waiters
            }
            for waiter in waiters { waiter.continuation.resume(returning: outbound) }
            for try await message in inbound.messages(maxSize: LockSessionMessage.maximumBytes) {
                guard case .text(let text) = message else { continue }
                self.deliver(text, from: endpoint)
            }
        }
    }

    /// Hands an answer to the call waiting for it.
    private func deliver(_ message: String, from endpoint: String) {
        let (headerLine, body) = LockSessionMessage.split(message[...])
        guard
            let header = LockSessionResponseHeader(json: headerLine)
                ?? (try? JSONDecoder().decode(LockSessionResponseHeader.self, from: Data(headerLine.utf8))),
            let id = header.id,
            let call = state.withLock({ $0.pending.removeValue(forKey: id) })
        else { return }
        call.settle(.success((header.status, header.requestID, ByteBuffer(string: String(body)), endpoint)))
    }
}

/// The lock session's connection closed.
struct LockSessionClosed: Error, CustomStringConvertible {
    var description: String { "the lock session's connection closed" }
}

/// A call of the lock session waited past its timeout; the connection was closed.
struct LockSessionTimedOut: Error, CustomStringConvertible {
    var endpoint: String
    var description: String { "no answer from \(endpoint) in time; the lock session's connection was closed" }
}
