import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes the connection once a response that says `Connection: close` has been written.
///
/// Hummingbird keeps a connection open after any response and, before the next request, reads the
/// rest of the current request's body. After an early refusal (a bad signature, an oversized
/// chunk, a body too large) that body may be hundreds of megabytes the client should not send and
/// the server should not read: the gateway marks such an answer `Connection: close`, and this
/// handler ends the connection as soon as the answer is out.
final class CloseAfterResponseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var closeAfterEnd = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            closeAfterEnd = head.headerFields[.connection]?.lowercased() == "close"
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closeAfterEnd else { return context.write(data, promise: promise) }
            closeAfterEnd = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            let connection = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in connection.value.close(promise: nil) }
            context.write(data, promise: written)
        }
    }
}
