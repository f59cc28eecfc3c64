import Dispatch
import NIOCore

@testable import PalisadeHTTP

/// libFuzzer target: the aws-chunked decoder on arbitrary bodies, unsigned with a trailer and
/// signed with a fixed key, cut into pieces at arbitrary places. Nothing may crash, and what it
/// passes on never exceeds the declared decoded length.
struct Pieces: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let pieces: [ByteBuffer]

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: ArraySlice<ByteBuffer>
        mutating func next() async -> ByteBuffer? { remaining.popFirst() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: pieces[...]) }
}

final class Outcome: @unchecked Sendable {
    var decoded = 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 2 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte chooses the piece size, the second the declared length.
    let pieceSize = Int(bytes[0]) + 1
    let declared = Int64(bytes[1]) * 4
    let body = Array(bytes.dropFirst(2))
    let pieces = stride(from: 0, to: body.count, by: pieceSize).map {
        ByteBuffer(bytes: body[$0..<min($0 + pieceSize, body.count)])
    }
    for signing in [
        nil,
        AWSChunkedBody<Pieces>.Signing(
            key: .init(size: .bits256),
            timestamp: "20260101T000000Z",
            scope: "20260101/us-east-1/s3/aws4_request",
            seed: String(repeating: "0", count: 64)
        ),
    ] {
        let chunked = AWSChunkedBody(
            base: Pieces(pieces: pieces),
            signing: signing,
            decodedLength: declared,
            expectedTrailers: signing == nil ? ["x-amz-checksum-crc32"] : [],
            trailers: .init()
        )
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                for try await chunk in chunked { outcome.decoded += chunk.readableBytes }
            } catch {}
            done.signal()
        }
        done.wait()
        if outcome.decoded > declared { fatalError("passed on \(outcome.decoded) bytes for a declared \(declared)") }
    }
    return 0
}
