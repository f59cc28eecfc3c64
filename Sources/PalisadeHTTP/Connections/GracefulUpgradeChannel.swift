import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import PalisadeAuth

/// The server's connections: HTTP/1.1 that may upgrade to a lock session, at most
/// ``ConnectionLimits/maximumConnections`` at once (a ``ConnectionGate``). A ``SessionUpgradeGate``
/// turns every upgrade that would be refused into a plain HTTP request, answered in its protocol's
/// own format; a ``ParserErrorResponder`` answers what the HTTP parser rejects.
///
/// Until a connection's first request arrives, the WebSocket upgrade channel waits to learn
/// whether it will upgrade, heeds no timeout and does not heed graceful shutdown: a
/// ``FirstRequestGuard`` closes such a connection when its head is late, or when the shutdown
/// begins and it has sent nothing (a client's idle, never-used pooled connection).
struct GracefulUpgradeChannel: ServerChildChannel {
    let inner: HTTP1WebSocketUpgradeChannel
    /// Checks the signature of a session's upgrade request before the upgrade layer sees it.
    let sessionVerifier: SigV4Verifier
    let limits: ConnectionLimits
    let gate: ConnectionGate

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1WebSocketUpgradeChannel.Value> {
        guard gate.admit(channel) else {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FirstRequestGuard(headerTimeout: limits.headerTimeout))
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

/// First in a connection's pipeline, until its first request head has arrived: closes the
/// connection if that head is not complete within ``ConnectionLimits/headerTimeout`` of its
/// opening, or on `ChannelShouldQuiesceEvent` (graceful shutdown) if nothing has been received.
/// From the first head on, ``RequestTimeoutHandler`` keeps the time (or, for a lock session, the
/// session's own keep-alives).
final class FirstRequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let headerTimeout: Duration
    private var hasReceived = false
    /// The connection's first line: the first request's request line (at most 8 KiB).
    private var firstLine: [UInt8] = []
    /// How much of the blank line that ends a head (`\r\n\r\n`) the last bytes matched.
    private var matched = 0
    private var timeout: Scheduled<Void>?

    init(headerTimeout: Duration) { self.headerTimeout = headerTimeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let connection = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: .init(headerTimeout)) { connection.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timeout?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        hasReceived = true
        if timeout != nil {
            let bytes = unwrapInboundIn(data)
            if !firstLine.contains(UInt8(ascii: "\n")), firstLine.count < 8192 {
                firstLine += bytes.readableBytesView.prefix(8192 - firstLine.count)
            }
            if endsHead(bytes) {
                timeout?.cancel()
                timeout = nil
            }
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !hasReceived {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The target (path and query) of the connection's first request, or nil when no request
    /// line has arrived.
    var firstRequestTarget: String? {
        guard let end = firstLine.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let words = firstLine[..<end].split(separator: UInt8(ascii: " "))
        return words.count >= 2 ? String(decoding: words[1], as: UTF8.self) : nil
    }

    /// Whether `bytes` complete the head's closing blank line.
    private func endsHead(_ bytes: ByteBuffer) -> Bool {
        let blankLine: [UInt8] = [13, 10, 13, 10]
        for byte in bytes.readableBytesView {
            matched = byte == blankLine[matched] ? matched + 1 : (byte == 13 ? 1 : 0)
            if matched == blankLine.count { return true }
        }
        return false
    }
}
