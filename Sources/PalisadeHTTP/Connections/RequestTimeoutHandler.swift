import HTTPTypes
import NIOCore
import NIOHTTPTypes
import PalisadeProtocol

/// Bounds how long a connection may keep the server waiting once its first request has arrived
/// (``ConnectionLimits``): between requests (idle, or a head arriving slowly) the connection is
/// closed; while a body is awaited, the request is answered `400 RequestTimeout` in its protocol's
/// format (lock API JSON under `/_palisade/`, else S3 XML) and the connection is closed.
///
/// No clock runs while the server works on a request, however long (a blocking acquire may wait
/// minutes), nor while the server has not asked for more bytes (a slow disk holding the body back).
final class RequestTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Phase {
        /// No request in progress: since when, and since when bytes of the next head have arrived.
        case betweenRequests(since: NIODeadline, headStarted: NIODeadline?)
        /// A request's body is being read; the server asked for more at `waitingSince`.
        case readingBody(path: String, waitingSince: NIODeadline?)
        /// The whole request is in; the server is answering.
        case answering
    }

    private let limits: ConnectionLimits
    /// Installed when the first request head has arrived, which passes through next.
    private var phase = Phase.betweenRequests(since: .now(), headStarted: .now())
    private var responseStarted = false
    private var check: (task: Scheduled<Void>, deadline: NIODeadline)?

    init(limits: ConnectionLimits) { self.limits = limits }

    func handlerAdded(context: ChannelHandlerContext) { schedule(context) }

    func handlerRemoved(context: ChannelHandlerContext) { check?.task.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            phase = .readingBody(path: head.path ?? "/", waitingSince: nil)
            responseStarted = false
        case .body:
            if case .readingBody(let path, _) = phase { phase = .readingBody(path: path, waitingSince: nil) }
        case .end:
            phase = responseStarted ? .betweenRequests(since: .now(), headStarted: nil) : .answering
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Bytes that made no part yet: the start of the next request's head.
        if case .betweenRequests(let since, nil) = phase { phase = .betweenRequests(since: since, headStarted: .now()) }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if case .readingBody(let path, nil) = phase {
            phase = .readingBody(path: path, waitingSince: .now())
            schedule(context)
        }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head: responseStarted = true
        case .body: break
        case .end:
            if case .answering = phase {
                phase = .betweenRequests(since: .now(), headStarted: nil)
                schedule(context)
            }
        }
        context.write(data, promise: promise)
    }

    /// When the current phase runs out, or nil when no clock runs.
    private var deadline: NIODeadline? {
        switch phase {
        case .betweenRequests(_, let headStarted?): headStarted + .init(limits.headerTimeout)
        case .betweenRequests(let since, nil): since + .init(limits.idleTimeout)
        case .readingBody(_, let waitingSince?): waitingSince + .init(limits.bodyTimeout)
        case .readingBody(_, nil), .answering: nil
        }
    }

    /// Makes sure a check runs by the current deadline (a check already due sooner is kept).
    private func schedule(_ context: ChannelHandlerContext) {
        guard let deadline else { return }
        if let check {
            guard check.deadline > deadline else { return }
            check.task.cancel()
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.check = nil
            handler.expireIfDue(context)
        }
        check = (task, deadline)
    }

    private func expireIfDue(_ context: ChannelHandlerContext) {
        guard let deadline else { return }
        guard deadline <= .now() else { return schedule(context) }
        if case .readingBody(let path, _) = phase, !responseStarted {
            responseStarted = true
            let (head, body) = Self.requestTimeout(path: path)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
            let connection = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in connection.value.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    /// `400 RequestTimeout`, as S3 XML or lock API JSON.
    static func requestTimeout(path: String) -> (HTTPResponse, ByteBuffer) {
        let answer = ConnectionErrorAnswer(
            target: path,
            lockCode: LockAPIErrorCode.requestTimeout,
            s3Code: "RequestTimeout",
            message: "the client did not send the rest of the request within the server's body timeout"
        )
        let fields: HTTPFields = [
            .connection: "close", HTTPField.Name(PalisadeHeaders.requestID)!: answer.requestID,
            .contentType: answer.contentType, .contentLength: String(answer.body.readableBytes),
        ]
        return (HTTPResponse(status: .badRequest, headerFields: fields), answer.body)
    }
}
