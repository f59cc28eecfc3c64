import NIOCore

/// Answers the HTTP/2 PINGs a server sends, below the HTTP/2 handler, which never sees them.
///
/// etcd's gRPC server (grpc-go) sends a PING to estimate bandwidth each time data reaches it while
/// none is outstanding; under a steady flow of small calls that is hundreds a second. SwiftNIO's
/// HTTP/2 handler counts PINGs as control frames and, past 200 in 30 s (a guard against floods that
/// grpc-swift does not let us configure), closes the connection with ENHANCE_YOUR_CALM, failing
/// every call on it. This handler, first in the connection's pipeline, splits the inbound bytes
/// into frames, answers each PING without ACK at once with its ACK (as RFC 9113 §6.7 asks), and
/// passes every other frame on unchanged. Outbound bytes are not touched.
final class InboundPingResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes of a frame that has not arrived whole.
    private var pending: ByteBuffer?

    static let frameHeaderSize = 9
    static let pingType: UInt8 = 6
    static let ackFlag: UInt8 = 1

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var earlier = pending {
            earlier.writeBuffer(&bytes)
            bytes = earlier
            pending = nil
        }
        // Frames before a PING pass on as one buffer; a PING is answered and left out.
        var forwardFrom = bytes.readerIndex
        var cursor = bytes.readerIndex
        while let length = bytes.getUInt24(at: cursor), bytes.writerIndex - cursor >= Self.frameHeaderSize + Int(length)
        {
            let start = cursor
            let type = bytes.getInteger(at: start + 3, as: UInt8.self)!
            let flags = bytes.getInteger(at: start + 4, as: UInt8.self)!
            cursor += Self.frameHeaderSize + Int(length)
            guard type == Self.pingType, flags & Self.ackFlag == 0, length == 8 else { continue }
            if start > forwardFrom {
                context.fireChannelRead(wrapInboundOut(bytes.getSlice(at: forwardFrom, length: start - forwardFrom)!))
            }
            var ack = bytes.getSlice(at: start, length: Self.frameHeaderSize + 8)!
            ack.setInteger(flags | Self.ackFlag, at: ack.readerIndex + 4)
            context.writeAndFlush(wrapOutboundOut(ack), promise: nil)
            forwardFrom = cursor
        }
        if cursor > forwardFrom {
            context.fireChannelRead(wrapInboundOut(bytes.getSlice(at: forwardFrom, length: cursor - forwardFrom)!))
        }
        if bytes.writerIndex > cursor { pending = bytes.getSlice(at: cursor, length: bytes.writerIndex - cursor) }
    }
}

extension ByteBuffer {
    /// The 24-bit big-endian length at `index`, if three bytes are there.
    fileprivate func getUInt24(at index: Int) -> UInt32? {
        guard let high = getInteger(at: index, as: UInt8.self), let low = getInteger(at: index + 1, as: UInt16.self)
        else { return nil }
        return UInt32(high) << 16 | UInt32(low)
    }
}
