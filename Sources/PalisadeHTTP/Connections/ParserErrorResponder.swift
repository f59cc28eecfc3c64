import NIOCore
import NIOHTTP1
import PalisadeProtocol

/// Answers a request whose head the HTTP/1.1 parser rejects (a malformed head, an oversized
/// header, a bad `Content-Length`, …) with `400 Bad Request`, then closes the connection: a client
/// never waits on a socket that will not answer. Hummingbird leaves NIO's own error handling off,
/// and without this the connection gets no answer at all. The answer is the lock API's JSON
/// (`MalformedRequest`) when the rejected request is the connection's first and names a
/// `/_palisade/` path (``FirstRequestGuard`` keeps its request line), else S3 XML (`BadRequest`).
///
/// It only acts on `HTTPParserError`s; reads and writes pass through untouched, so it can stay in
/// the pipeline after a lock session's WebSocket upgrade.
final class ParserErrorResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Whether a request has been parsed on this connection (what passes is never unwrapped:
    /// after a session's upgrade, it is WebSocket frames).
    private var hasParsedRequest = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        hasParsedRequest = true
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A connection that ends inside a message (a truncated body) is the request handler's to
        // answer: it has the request, and answers 400 IncompleteBody.
        guard let parserError = error as? HTTPParserError, parserError != .invalidEOFState else {
            context.fireErrorCaught(error)
            return
        }
        let target =
            hasParsedRequest
            ? nil : (try? context.pipeline.syncOperations.handler(type: FirstRequestGuard.self))?.firstRequestTarget
        let answer = ConnectionErrorAnswer(
            target: target,
            lockCode: LockAPIErrorCode.malformedRequest,
            s3Code: "BadRequest",
            message: "the request is not valid HTTP/1.1 (\(parserError))"
        )
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: answer.contentType)
        headers.add(name: "content-length", value: String(answer.body.readableBytes))
        headers.add(name: "connection", value: "close")
        headers.add(name: PalisadeHeaders.requestID, value: answer.requestID)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))),
            promise: nil
        )
        context.write(wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        let connection = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in connection.value.close(promise: nil) }
    }
}
