import Hummingbird
import NIOCore

/// A PutObject or UploadPart body: as sent (its length announced), streamed without an announced
/// length (HTTP chunked transfer coding, up to a limit), or decoded from aws-chunked.
enum UploadBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    case plain(RequestBody)
    /// A body of unknown length: more than `limit` bytes fails the upload with `tooLarge`.
    case unannounced(RequestBody, limit: Int64, tooLarge: S3Error)
    case chunked(AWSChunkedBody<RequestBody>)

    func makeAsyncIterator() -> Iterator {
        switch self {
        case .plain(let body): .plain(body.makeAsyncIterator())
        case .unannounced(let body, let limit, let tooLarge):
            .unannounced(body.makeAsyncIterator(), remaining: limit, tooLarge: tooLarge)
        case .chunked(let body): .chunked(body.makeAsyncIterator())
        }
    }

    enum Iterator: AsyncIteratorProtocol {
        case plain(RequestBody.AsyncIterator)
        case unannounced(RequestBody.AsyncIterator, remaining: Int64, tooLarge: S3Error)
        case chunked(AWSChunkedBody<RequestBody>.Iterator)

        mutating func next() async throws -> ByteBuffer? {
            switch self {
            case .plain(var iterator):
                let chunk = try await iterator.next()
                self = .plain(iterator)
                return chunk
            case .unannounced(var iterator, let remaining, let tooLarge):
                let chunk = try await iterator.next()
                let left = remaining - Int64(chunk?.readableBytes ?? 0)
                guard left >= 0 else { throw tooLarge }
                self = .unannounced(iterator, remaining: left, tooLarge: tooLarge)
                return chunk
            case .chunked(var iterator):
                let chunk = try await iterator.next()
                self = .chunked(iterator)
                return chunk
            }
        }
    }
}
