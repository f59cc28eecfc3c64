import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay in front of a server on loopback, for fault tests: clients talk to ``endpoint``,
/// the relay carries the bytes both ways, and a test can make the server look stalled (as a
/// SIGSTOPped process: connections are accepted and stay open, nothing is answered) or dead (as a
/// killed process: every connection is closed and new ones are refused).
public final class TCPRelay: Sendable {
    /// `http://127.0.0.1:PORT` of the relay.
    public let endpoint: String
    private let listener: any Channel
    private let state = Mutex(State())

    private struct State {
        var connections: [any Channel] = []
        var isStalled = false
    }

    private init(listener: any Channel) {
        self.listener = listener
        endpoint = "http://127.0.0.1:\(listener.localAddress?.port ?? 0)"
    }

    /// A relay to `127.0.0.1:port`, on an ephemeral port of its own.
    public static func start(to port: Int) async throws -> TCPRelay {
        let relay = Mutex<TCPRelay?>(nil)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture {
                            try outbound.pipeline.syncOperations.addHandler(Forwarder(to: inbound))
                        }
                    }
                    .connect(host: "127.0.0.1", port: port)
                    .flatMapThrowing { outbound in
                        try inbound.pipeline.syncOperations.addHandler(Forwarder(to: outbound))
                        relay.withLock { $0 }?.admit([inbound, outbound])
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let made = TCPRelay(listener: listener)
        relay.withLock { $0 = made }
        return made
    }

    /// Stops carrying bytes: the server seems stalled. Connections stay open, new ones are
    /// accepted by the kernel and wait.
    public func stall() {
        let connections = state.withLock { state in
            state.isStalled = true
            return state.connections
        }
        listener.setOption(.autoRead, value: false).whenComplete { _ in }
        for connection in connections { connection.setOption(.autoRead, value: false).whenComplete { _ in } }
    }

    /// Closes every connection and stops listening: the server seems dead.
    public func cut() async {
        let connections = state.withLock { state in
            defer { state.connections = [] }
            return state.connections
        }
        try? await listener.close()
        for connection in connections {
            try? await connection.close()
        }
    }

    /// Ends the relay.
    public func close() async {
        await cut()
    }

    private func admit(_ pair: [any Channel]) {
        let isStalled = state.withLock { state in
            state.connections += pair
            return state.isStalled
        }
        for channel in pair { channel.setOption(.autoRead, value: !isStalled).whenComplete { _ in } }
    }
}

/// Writes what one side of a relayed connection reads to the other side, and closes the other
/// side when this one closes.
private final class Forwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let peer: any Channel

    init(to peer: any Channel) {
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
