import NIOCore
import NIOEmbedded
import Testing

@testable import EtcdCluster

/// An HTTP/2 frame: 24-bit length, type, flags, stream id, payload.
func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
    let length = payload.count
    return [UInt8(length >> 16), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
        + [UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
}

@Suite("InboundPingResponder: the server's PINGs are answered below HTTP/2, everything else passes")
struct InboundPingResponderTests {
    let data = frame(type: 0, flags: 1, stream: 1, payload: Array("hello".utf8))
    let ping = frame(type: 6, payload: [1, 2, 3, 4, 5, 6, 7, 8])
    let pingAck = frame(type: 6, flags: 1, payload: [9, 9, 9, 9, 9, 9, 9, 9])
    let settings = frame(type: 4, payload: [0, 3, 0, 0, 0, 100])

    func run(_ chunks: [[UInt8]]) throws -> (forwarded: [UInt8], written: [UInt8]) {
        let channel = EmbeddedChannel(handler: InboundPingResponder())
        for chunk in chunks { try channel.writeInbound(ByteBuffer(bytes: chunk)) }
        var forwarded: [UInt8] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { forwarded += Array(buffer.readableBytesView) }
        var written: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written += Array(buffer.readableBytesView) }
        _ = try channel.finish()
        return (forwarded, written)
    }

    @Test("a PING between frames is answered with its ACK and left out; the frames around it pass unchanged")
    func pingAnswered() throws {
        let (forwarded, written) = try run([settings + ping + data])
        #expect(forwarded == settings + data)
        #expect(written == frame(type: 6, flags: 1, payload: [1, 2, 3, 4, 5, 6, 7, 8]))
    }

    @Test("frames split across reads at every byte are put back together; a PING ACK passes on")
    func splitFrames() throws {
        let all = data + ping + pingAck + settings
        for cut in 1..<all.count {
            let (forwarded, written) = try run([Array(all[..<cut]), Array(all[cut...])])
            #expect(forwarded == data + pingAck + settings, "cut at \(cut)")
            #expect(written == frame(type: 6, flags: 1, payload: [1, 2, 3, 4, 5, 6, 7, 8]), "cut at \(cut)")
        }
    }
}
