import NIOCore
import NIOHTTP1

/// Answers a request whose head the HTTP/1.1 parser rejects (a malformed head, an oversized
/// header, a bad `Content-Length`, …) with `400 Bad Request` and an S3 XML error, then closes the connection:
/// a client never waits on a socket that will not answer. Hummingbird leaves NIO's own error
/// handling off, and without this the connection gets no answer at all.
///
/// It only acts on `HTTPParserError`s; reads and writes pass through untouched, so it can stay in
/// the pipeline after a lock session's WebSocket upgrade.
final class ParserErrorResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A connection that ends inside a message (a truncated body) is the request handler's to
        // answer: it has the request, and answers 400 IncompleteBody.
        guard let parserError = error as? HTTPParserError, parserError != .invalidEOFState else {
            context.fireErrorCaught(error)
            return
        }
        let body = ByteBuffer(
            string: #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
                + "<Error><Code>BadRequest</Code><Message>the request is not valid HTTP/1.1 (\(parserError))</Message></Error>"
        )
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/xml")
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: "connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))),
            promise: nil
        )
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let connection = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in connection.value.close(promise: nil) }
    }
}
