import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import PalisadeAuth

/// The server's connections: HTTP/1.1 that may upgrade to a lock session, closing at graceful
/// shutdown the connections that have not sent their first request yet. A ``SessionUpgradeGate``
/// turns every upgrade that would be refused into a plain HTTP request, answered in its protocol's
/// own format; a ``ParserErrorResponder`` answers what the HTTP parser rejects.
///
/// Until a connection's first request arrives, the WebSocket upgrade channel waits to learn
/// whether it will upgrade and does not heed graceful shutdown, so a client's idle, never-used
/// pooled connection would hold the shutdown until the client closed it. Such a connection has
/// nothing in flight: it is closed as soon as the shutdown begins.
struct GracefulUpgradeChannel: ServerChildChannel {
    let inner: HTTP1WebSocketUpgradeChannel
    /// Checks the signature of a session's upgrade request before the upgrade layer sees it.
    let sessionVerifier: SigV4Verifier

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1WebSocketUpgradeChannel.Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(CloseSilentConnectionOnQuiesce())
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            let upgrades = try channel.pipeline.syncOperations.context(
                handlerType: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self
            )
            try channel.pipeline.syncOperations.addHandler(
                SessionUpgradeGate(verifier: sessionVerifier),
                position: .before(upgrades.handler)
            )
            let decoder = try channel.pipeline.syncOperations.context(
                handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self
            )
            try channel.pipeline.syncOperations.addHandler(ParserErrorResponder(), position: .after(decoder.handler))
            return value
        }
    }

    func handle(value: HTTP1WebSocketUpgradeChannel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// First in a connection's pipeline: closes it on `ChannelShouldQuiesceEvent` if it has received
/// nothing yet, and steps aside (forwarding the event) once it has.
final class CloseSilentConnectionOnQuiesce: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var hasReceived = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        hasReceived = true
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !hasReceived {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
