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
/// run at once on the connection. The connection is opened by the first call and again by the
/// first call after it closed; a call in flight when it closes fails with a connection error,
/// which ``LockClient`` retries like any connection failure. The connection closes when the last
/// client holding the session goes away.
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

    /// A session with the server at `endpoint` (`http://host:port`, or `https://` for `wss://`),
    /// signed by `signer`, trusting the server as `tlsConfiguration` says (nil: the system's
    /// roots); `now` tells the time for ``retryAfterRefusal``.
    init(
        endpoint: String,
        signer: SigV4Signer,
        tlsConfiguration: TLSConfiguration?,
        now: @escaping @Sendable () -> ContinuousClock.Instant
    ) {
        channel = LockSessionChannel(endpoint: endpoint, signer: signer, tlsConfiguration: tlsConfiguration)
        self.now = now
    }

    deinit { channel.cancel() }

    /// Sends one call and waits for its answer.
    func call(_ method: String, _ path: String, query: String, body: Data) async throws -> LockSessionChannel.Answer {
        if let until = refusedUntil.withLock({ $0 }), now() < until {
            throw WebSocketClientError.webSocketUpgradeFailed
        }
        do {
            return try await channel.call(method, path, query: query, body: body)
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
    /// An answer: the HTTP status and request id of the call, and its body.
    typealias Answer = (status: Int, requestID: String, body: ByteBuffer)

    /// Messages to send on the open connection, in order.
    private typealias Outbox = AsyncStream<String>.Continuation

    private enum Link {
        case closed
        case opening([CheckedContinuation<Outbox, any Error>])
        case open(Outbox)
    }

    private struct State {
        var link = Link.closed
        var nextID: UInt64 = 0
        var pending: [UInt64: CheckedContinuation<Answer, any Error>] = [:]
        var connection: Task<Void, Never>?
    }

    private let url: String
    private let authority: String
    private let signer: SigV4Signer
    private let state = Mutex(State())

    private let tlsConfiguration: TLSConfiguration?

    init(endpoint: String, signer: SigV4Signer, tlsConfiguration: TLSConfiguration?) {
        self.tlsConfiguration = tlsConfiguration
        self.url =
            endpoint.replacingOccurrences(of: "http", with: "ws", options: .anchored) + PalisadePaths.v1
            + PalisadePaths.session
        self.authority = LockClient.authority(of: endpoint)
        self.signer = signer
    }

    /// Ends the connection task, if one runs.
    func cancel() {
        state.withLock { $0.connection }?.cancel()
    }

    /// Sends one call and waits for its answer.
    func call(_ method: String, _ path: String, query: String, body: Data) async throws -> Answer {
        let outbox = try await openLink()
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let header = LockSessionRequestHeader(id: id, method: method, path: path, query: query.isEmpty ? nil : query)
        let message = header.line + "\n" + String(decoding: body, as: UTF8.self)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // Registered only while the link is open: closing fails every registered call.
                let registered = state.withLock { state -> Bool in
                    guard case .open = state.link, !Task.isCancelled else { return false }
                    state.pending[id] = continuation
                    return true
                }
                guard registered else { return continuation.resume(throwing: LockSessionClosed()) }
                outbox.yield(message)
            }
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
        state.withLock { $0.pending.removeValue(forKey: id) }?.resume(throwing: error)
    }

    /// The open connection's outbox, opening the connection when there is none.
    private func openLink() async throws -> Outbox {
        try await withCheckedThrowingContinuation { continuation in
            let startConnection = state.withLock { state -> Bool in
                switch state.link {
                case .open(let outbox):
                    continuation.resume(returning: outbox)
                    return false
                case .opening(var waiters):
                    waiters.append(continuation)
                    state.link = .opening(waiters)
                    return false
                case .closed:
                    state.link = .opening([continuation])
                    return true
                }
            }
            if startConnection {
                let task = Task { await self.runConnection() }
                state.withLock { $0.connection = task }
            }
        }
    }

    /// Runs one connection until it closes, then fails whatever still waits on it.
    private func runConnection() async {
        var additionalHeaders = HTTPFields()
        for header in signer.requestHeaders(
            method: "GET",
            path: PalisadePaths.v1 + PalisadePaths.session,
            query: "",
            host: authority,
            payloadHash: SigV4.emptyPayloadHash
        ) {
            additionalHeaders.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value))
        }
        var failure: any Error = LockSessionClosed()
        do {
            try await WebSocketClient.connect(
                url: url,
                configuration: .init(
                    maxFrameSize: LockSessionMessage.maximumBytes,
                    additionalHeaders: additionalHeaders
                ),
                tlsConfiguration: tlsConfiguration,
                logger: Logger(label: "palisade.lock-session")
            ) { inbound, outbound, _ in
                let (messages, outbox) = AsyncStream.makeStream(of: String.self)
                let waiters = self.state.withLock { state -> [CheckedContinuation<Outbox, any Error>] in
                    guard case .opening(let waiters) = state.link else { return [] }
                    state.link = .open(outbox)
                    return waiters
                }
                for waiter in waiters { waiter.resume(returning: outbox) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await message in messages { try await outbound.write(.text(message)) }
                    }
                    for try await message in inbound.messages(maxSize: LockSessionMessage.maximumBytes) {
                        guard case .text(let text) = message else { continue }
                        self.deliver(text)
                    }
                    outbox.finish()
                    group.cancelAll()
                }
            }
        } catch {
            failure = error
        }
        let (waiters, pending) = state.withLock { state in
            defer {
                state.link = .closed
                state.pending = [:]
                state.connection = nil
            }
            switch state.link {
            case .opening(let waiters): return (waiters, Array(state.pending.values))
            case .open(let outbox):
                outbox.finish()
                return ([], Array(state.pending.values))
            case .closed: return ([], Array(state.pending.values))
            }
        }
        for waiter in waiters { waiter.resume(throwing: failure) }
        for call in pending { call.resume(throwing: failure) }
    }

    /// Hands an answer to the call waiting for it.
    private func deliver(_ message: String) {
        let (headerLine, body) = LockSessionMessage.split(message[...])
        guard let header = try? JSONDecoder().decode(LockSessionResponseHeader.self, from: Data(headerLine.utf8)),
            let id = header.id,
            let call = state.withLock({ $0.pending.removeValue(forKey: id) })
        else { return }
        call.resume(returning: (header.status, header.requestID, ByteBuffer(string: String(body))))
    }
}

/// The lock session's connection closed.
struct LockSessionClosed: Error, CustomStringConvertible {
    var description: String { "the lock session's connection closed" }
}
