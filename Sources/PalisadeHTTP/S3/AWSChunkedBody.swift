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
/// seeded by the request's signature.
///
/// Memory stays bounded whatever the chunk sizes: a chunk's bytes are passed on as they arrive and
/// its signature is checked at its end, before anything after it is. A chunk that fails throws, so
/// the consumer (which commits only once the sequence has ended) never commits unsigned bytes. No
/// chunk may reach past `decodedLength`, and every trailer named in `expectedTrailers` must arrive.
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
    /// `x-amz-decoded-content-length`: the exact number of data bytes the chunks carry.
    let decodedLength: Int64
    /// The trailer names (lower-cased) declared in `x-amz-trailer`.
    let expectedTrailers: [String]
    let trailers: Trailers

    func makeAsyncIterator() -> Iterator {
        Iterator(
            base: base.makeAsyncIterator(),
            signing: signing,
            expectedTrailers: expectedTrailers,
            trailers: trailers,
            previousSignature: signing?.seed,
            undeclaredBytes: decodedLength
        )
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
        let expectedTrailers: [String]
        let trailers: Trailers
        var previousSignature: String?
        /// Data bytes still to come according to the declared decoded length.
        var undeclaredBytes: Int64
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
                    guard Int64(size) <= undeclaredBytes, size > 0 || undeclaredBytes == 0 else {
                        throw StorageError(
                            .incompleteBody,
                            "the aws-chunked body's chunks do not add up to x-amz-decoded-content-length"
                        )
                    }
                    undeclaredBytes -= Int64(size)
                    chunkHash = SHA256()
                    if size == 0 {
                        try verifyChunk(signature: signature)
                        state = .trailers
                    } else {
                        state = .data(remaining: size, signature: signature)
                    }
                case .data(let remaining, let signature):
                    if buffer.readableBytes == 0 { try await fill() }
                    let count = Swift.min(remaining, buffer.readableBytes)
                    let slice = buffer.readSlice(length: count)!
                    if signing != nil { slice.withUnsafeReadableBytes { chunkHash.update(bufferPointer: $0) } }
                    state =
                        remaining == count
                        ? .dataEnd(signature: signature) : .data(remaining: remaining - count, signature: signature)
                    return slice
                case .dataEnd(let signature):
                    try verifyChunk(signature: signature)
                    try await expectLineEnd()
                    state = .header
                case .trailers:
                    guard let line = try await readLine() else { throw Self.malformed }
                    if line.isEmpty {
                        let missing = expectedTrailers.filter { trailers.all[$0] == nil }
                        guard missing.isEmpty else {
                            throw S3Error(
                                .badRequest,
                                "MalformedTrailerError",
                                "the trailer declared in x-amz-trailer did not arrive: \(missing.joined(separator: ", "))"
                            )
                        }
                        state = .done
                        return nil
                    }
                    let pair = line.split(separator: ":", maxSplits: 1)
                    guard pair.count == 2 else { throw Self.malformed }
                    trailers.set(pair[0].lowercased(), pair[1].trimmingCharacters(in: .whitespaces))
                }
            }
        }

        mutating func verifyChunk(signature: String?) throws {
            guard let signing, let previousSignature else { return }
            let stringToSign = [
                "AWS4-HMAC-SHA256-PAYLOAD", signing.timestamp, signing.scope, previousSignature, SigV4.emptyPayloadHash,
                chunkHash.finalize().withUnsafeBytes(Hex.lowercase),
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
