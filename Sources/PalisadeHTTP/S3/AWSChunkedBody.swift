import Crypto
import Foundation
import NIOCore
import PalisadeAuth
import PalisadeSupport
import StorageEngine
import Synchronization

/// Decodes an `aws-chunked` request body as it streams.
///
/// `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n` … `0[;chunk-signature=<sig>]\r\n` then optional
/// trailer lines `name:value\r\n` and a final `\r\n`. With chunk signatures
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`), each chunk's signature chains from the previous one,
/// seeded by the request's signature, and is checked before the chunk is passed on.
struct AWSChunkedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer

    /// How chunk signatures are checked; nil for unsigned chunks.
    struct Signing: Sendable {
        let key: SymmetricKey
        let timestamp: String
        let scope: String
        let seed: String
    }

    /// The trailer lines, available once the body has been read to its end.
    final class Trailers: Sendable {
        private let values = Mutex<[String: String]>([:])
        var all: [String: String] { values.withLock { $0 } }
        func set(_ name: String, _ value: String) { values.withLock { $0[name] = value } }
    }

    let base: Base
    let signing: Signing?
    let trailers: Trailers

    func makeAsyncIterator() -> Iterator {
        Iterator(base: base.makeAsyncIterator(), signing: signing, trailers: trailers, previousSignature: signing?.seed)
    }

    struct Iterator: AsyncIteratorProtocol {
        enum State {
            case header
            case data(remaining: Int, signature: String?)
            case dataEnd(signature: String?)
            case trailers
            case done
        }

        var base: Base.AsyncIterator
        let signing: Signing?
        let trailers: Trailers
        var previousSignature: String?
        var buffer = ByteBuffer()
        var state = State.header
        var chunkHash = SHA256()
        var baseFinished = false

        static var malformed: StorageError {
            StorageError(.incompleteBody, "the aws-chunked body is malformed or truncated")
        }

        mutating func next() async throws -> ByteBuffer? {
            while true {
                switch state {
                case .done:
                    return nil
                case .header:
                    guard let line = try await readLine() else { throw Self.malformed }
                    let fields = line.split(separator: ";", maxSplits: 1)
                    guard let sizeText = fields.first, let size = Int(sizeText, radix: 16), size >= 0 else {
                        throw Self.malformed
                    }
                    var signature: String?
                    if fields.count == 2 {
                        let pair = fields[1].split(separator: "=", maxSplits: 1)
                        guard pair.count == 2, pair[0] == "chunk-signature" else { throw Self.malformed }
                        signature = String(pair[1])
                    }
                    if signing != nil && signature == nil { throw Self.malformed }
                    chunkHash = SHA256()
                    if size == 0 {
                        try verifyChunk(signature: signature)
                        state = .trailers
                    } else {
                        state = .data(remaining: size, signature: signature)
                    }
                case .data(let remaining, _):
                    if signing != nil {
                        // A signed chunk is passed on only after its signature is checked.
                        var chunk = ByteBuffer()
                        try await finishChunk(into: &chunk)
                        return chunk
                    }
                    if buffer.readableBytes == 0 { try await fill() }
                    let count = Swift.min(remaining, buffer.readableBytes)
                    let slice = buffer.readSlice(length: count)!
                    state =
                        remaining == count
                        ? .dataEnd(signature: nil) : .data(remaining: remaining - count, signature: nil)
                    return slice
                case .dataEnd:
                    try await expectLineEnd()
                    state = .header
                case .trailers:
                    guard let line = try await readLine() else { throw Self.malformed }
                    if line.isEmpty {
                        state = .done
                        return nil
                    }
                    let pair = line.split(separator: ":", maxSplits: 1)
                    guard pair.count == 2 else { throw Self.malformed }
                    trailers.set(pair[0].lowercased(), pair[1].trimmingCharacters(in: .whitespaces))
                }
            }
        }

        /// Gathers the rest of a signed chunk into `chunk`, checks its signature, and consumes the line end.
        mutating func finishChunk(into chunk: inout ByteBuffer) async throws {
            while case .data(let remaining, let signature) = state {
                if buffer.readableBytes == 0 { try await fill() }
                let count = Swift.min(remaining, buffer.readableBytes)
                var slice = buffer.readSlice(length: count)!
                slice.withUnsafeReadableBytes { chunkHash.update(bufferPointer: $0) }
                chunk.writeBuffer(&slice)
                state =
                    remaining == count
                    ? .dataEnd(signature: signature) : .data(remaining: remaining - count, signature: signature)
            }
            guard case .dataEnd(let signature) = state else { return }
            try verifyChunk(signature: signature)
            try await expectLineEnd()
            state = .header
        }

        mutating func verifyChunk(signature: String?) throws {
            guard let signing, let previousSignature else { return }
            let stringToSign = [
                "AWS4-HMAC-SHA256-PAYLOAD", signing.timestamp, signing.scope, previousSignature, SigV4.emptyPayloadHash,
                Hex.lowercase(chunkHash.finalize()),
            ].joined(separator: "\n")
            let expected = SigV4.signature(stringToSign: stringToSign, key: signing.key)
            guard expected == signature else {
                throw SigV4Error(.signatureDoesNotMatch, "a chunk signature of the aws-chunked body does not match")
            }
            self.previousSignature = expected
        }

        mutating func fill() async throws {
            guard !baseFinished, var more = try await base.next() else {
                baseFinished = true
                throw Self.malformed
            }
            buffer.discardReadBytes()
            buffer.writeBuffer(&more)
        }

        mutating func readLine() async throws -> String? {
            while true {
                if let index = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let length = index - buffer.readerIndex + 1
                    guard length <= 8192, var line = buffer.readString(length: length) else { throw Self.malformed }
                    line.removeLast()
                    if line.hasSuffix("\r") { line.removeLast() }
                    return line
                }
                guard buffer.readableBytes <= 8192 else { throw Self.malformed }
                do { try await fill() } catch { return nil }
            }
        }

        mutating func expectLineEnd() async throws {
            guard let line = try await readLine(), line.isEmpty else { throw Self.malformed }
        }
    }
}
