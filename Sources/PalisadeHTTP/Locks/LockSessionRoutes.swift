import Foundation
import Hummingbird
import HummingbirdWebSocket
import LockEngine
import Metrics
import NIOCore
import PalisadeAuth
import PalisadeProtocol
import Synchronization

/// Lock sessions (`Protocol/lock-sessions.md`): the lock API over one WebSocket per client,
/// authenticated once by the SigV4-signed upgrade request instead of once per call.
///
/// Each text message is a request — a header line (`{"id":…,"method":…,"path":…}`), a line feed,
/// and the body the HTTP API takes — and is answered by a message of the same shape carrying the
/// request's id, the HTTP status and the body the HTTP API answers. Requests run concurrently, so a
/// waiting acquire does not hold up the calls behind it; answers come in any order. They are served
/// by the same routes and error middleware as the HTTP lock API, so both behave alike. Acquire and
/// release — most of a session's messages — skip the router: their bodies are read as the route
/// reads them, and they are answered by the route's own handler, errors and metrics.
struct LockSessionRoutes: Sendable {
    /// The lock API routes without authentication: a session is authenticated at its upgrade.
    let responder: Router<PalisadeRequestContext>.Responder
    /// `palisade_lock_sessions`: the sessions open now.
    let openSessions: OpenSessionCount
    /// The handlers of the calls answered without the router.
    let lock: LockRoutes
    /// Records the calls answered without the router, as the router's middleware records the rest.
    let metrics: RequestMetricsMiddleware

    /// Sessions that serve the `lock` routes and the admin `fencing` routes; each call is recorded
    /// in the same request metrics as over HTTP.
    init(lock: LockRoutes, fencing: FencingRoutes, metricsFactory: any MetricsFactory) {
        openSessions = OpenSessionCount(gauge: Gauge(label: "palisade_lock_sessions", factory: metricsFactory))
        self.lock = lock
        metrics = RequestMetricsMiddleware(factory: metricsFactory)
        let router = Router(context: PalisadeRequestContext.self)
        router.add(middleware: metrics)
        router.add(middleware: ErrorMiddleware())
        let api = router.group(RouterPath(PalisadePaths.v1))
        lock.register(on: api)
        fencing.register(on: api)
        responder = router.buildResponder()
    }

    /// Adds the session endpoint to `router`, the server's WebSocket upgrade router.
    func register(on router: Router<PalisadeRequestContext>) {
        router.ws(RouterPath(PalisadePaths.v1 + PalisadePaths.session)) { [openSessions] inbound, outbound, context in
            openSessions.change(by: 1)
            defer { openSessions.change(by: -1) }
            // The connection's SessionUpgradeGate verified this signature before the upgrade.
            let accessKeyID = context.request.headers[.authorization].flatMap(SigV4.accessKeyID(ofAuthorization:)) ?? ""
            try await withThrowingDiscardingTaskGroup { group in
                for try await message in inbound.messages(maxSize: LockSessionMessage.maximumBytes) {
                    guard case .text(let text) = message else {
                        try await outbound.close(.unacceptableData, reason: "lock session messages are text")
                        return
                    }
                    group.addTask {
                        let answer = await answer(text, in: context.requestContext, accessKeyID: accessKeyID)
                        try await outbound.write(.text(answer))
                    }
                }
            }
        }
    }

    /// The answer to one request message of a session opened by `accessKeyID`.
    func answer(_ message: String, in session: PalisadeRequestContext, accessKeyID: String) async -> String {
        let context = PalisadeRequestContext(insideSessionOf: session, accessKeyID: accessKeyID)
        let (headerLine, body) = LockSessionMessage.split(message[...])
        guard
            let header = LockSessionRequestHeader(json: headerLine)
                ?? (try? JSONDecoder().decode(LockSessionRequestHeader.self, from: Data(headerLine.utf8))),
            let method = HTTPRequest.Method(header.method)
        else {
            let error = LockAPIError(
                .badRequest,
                LockAPIErrorCode.malformedRequest,
                "a lock session request starts with a header line {\"id\":…,\"method\":…,\"path\":…}"
            )
            return Self.encode(nil, error, requestID: context.requestID)
        }
        if let answer = await directAnswer(header, body: body, in: context) { return answer }
        let query = header.query.map { $0.isEmpty ? "" : "?" + $0 } ?? ""
        let request = Request(
            head: HTTPRequest(
                method: method,
                scheme: nil,
                authority: nil,
                path: PalisadePaths.v1 + header.path + query
            ),
            body: RequestBody(buffer: ByteBuffer(string: String(body)))
        )
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch {
            return Self.encode(header.id, ErrorMiddleware.apiError(for: error), requestID: context.requestID)
        }
        let collector = BodyCollector()
        do {
            try await response.body.write(CollectingBodyWriter(collector: collector))
        } catch {
            return Self.encode(header.id, ErrorMiddleware.apiError(for: error), requestID: context.requestID)
        }
        return Self.encode(
            id: header.id,
            status: response.status.code,
            requestID: context.requestID,
            body: String(buffer: collector.buffer)
        )
    }

    /// The answer to an acquire or a release whose body is exactly valid, from the route's handler
    /// without the router; nil for every other request, which the router answers.
    private func directAnswer(
        _ header: LockSessionRequestHeader,
        body: Substring,
        in context: PalisadeRequestContext
    ) async -> String? {
        guard header.method == "POST", header.query?.isEmpty ?? true,
            body.utf8.count <= LockAPILimits.maximumBodyBytes
        else { return nil }
        let start = ContinuousClock.now
        let status: HTTPResponse.Status
        let answer: String
        do {
            let json: String
            switch header.path {
            case "/locks/acquire":
                guard let request = AcquireRequest(json: body) else { return nil }
                json = try await lock.acquire(request, for: context).flatJSON
            case "/locks/release":
                guard let request = ReleaseRequest(json: body) else { return nil }
                json = try await lock.release(request, for: context).flatJSON
            default:
                return nil
            }
            status = .ok
            answer = Self.encode(id: header.id, status: status.code, requestID: context.requestID, body: json)
        } catch {
            let apiError = ErrorMiddleware.apiError(for: error, loggedIn: context)
            status = apiError.status
            answer = Self.encode(header.id, apiError, requestID: context.requestID)
        }
        metrics.record(
            route: PalisadePaths.v1 + header.path,
            method: .post,
            status: status,
            elapsed: start.duration(to: .now)
        )
        return answer
    }

    static func encode(_ id: UInt64?, _ error: LockAPIError, requestID: String) -> String {
        encode(
            id: id,
            status: error.status.code,
            requestID: requestID,
            body: String(decoding: error.body(requestID: requestID), as: UTF8.self)
        )
    }

    static func encode(id: UInt64?, status: Int, requestID: String, body: String) -> String {
        LockSessionResponseHeader(id: id, status: status, requestID: requestID).line + "\n" + body
    }
}

/// Gathers a response body in memory (lock API bodies are small).
final class BodyCollector {
    var buffer = ByteBuffer()
}

struct CollectingBodyWriter: ResponseBodyWriter {
    let collector: BodyCollector

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        collector.buffer.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// The number of open lock sessions, kept in a gauge.
final class OpenSessionCount: Sendable {
    private let count = Atomic<Int>(0)
    private let gauge: Gauge

    init(gauge: Gauge) { self.gauge = gauge }

    func change(by delta: Int) { gauge.record(count.add(delta, ordering: .relaxed).newValue) }
}
