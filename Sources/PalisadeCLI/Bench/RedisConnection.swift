import NIOCore
import NIOPosix

/// One connection to Redis speaking RESP2, one command at a time (as each benchmark client does).
/// Only what the benchmark needs: commands out as arrays of bulk strings, replies in as values.
final class RedisConnection {
    /// A RESP2 reply.
    enum Reply: Equatable {
        case simple(String)
        case error(String)
        case integer(Int)
        case bulk(String?)
        case array([Reply]?)
    }

    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var received = ByteBuffer()

    private init(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects to `host:port`, runs `body` with the connection, and closes it.
    static func with<Result: Sendable>(
        host: String,
        port: Int,
        _ body: (RedisConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RedisConnection(inbound: inbound, outbound: outbound))
        }
    }

    /// Sends one command and waits for its reply; a Redis error reply is returned, not thrown.
    func send(_ arguments: String...) async throws -> Reply {
        var command = ByteBuffer()
        command.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            command.writeString("$\(argument.utf8.count)\r\n\(argument)\r\n")
        }
        try await outbound.write(command)
        while true {
            var view = received
            if let reply = try Self.parse(&view) {
                received = view
                received.discardReadBytes()
                return reply
            }
            guard var chunk = try await inbound.next() else { throw BenchError("redis closed the connection") }
            received.writeBuffer(&chunk)
        }
    }

    /// Parses one reply from the front of `buffer`; nil when it is not complete yet.
    static func parse(_ buffer: inout ByteBuffer) throws -> Reply? {
        guard let line = readLine(&buffer), let kind = line.first else { return nil }
        let rest = String(line.dropFirst())
        switch kind {
        case "+": return .simple(rest)
        case "-": return .error(rest)
        case ":":
            guard let value = Int(rest) else { throw BenchError("bad RESP integer \(rest)") }
            return .integer(value)
        case "$":
            guard let length = Int(rest) else { throw BenchError("bad RESP bulk length \(rest)") }
            if length < 0 { return .bulk(nil) }
            guard buffer.readableBytes >= length + 2, let text = buffer.readString(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulk(text)
        case "*":
            guard let count = Int(rest) else { throw BenchError("bad RESP array length \(rest)") }
            if count < 0 { return .array(nil) }
            var elements: [Reply] = []
            for _ in 0..<count {
                guard let element = try parse(&buffer) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw BenchError("unexpected RESP reply type \(kind)")
        }
    }

    private static func readLine(_ buffer: inout ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard let end = view.firstIndex(of: UInt8(ascii: "\r")), view.index(after: end) < view.endIndex else {
            return nil
        }
        let line = buffer.readString(length: end - view.startIndex)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}
