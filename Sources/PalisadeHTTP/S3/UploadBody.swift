import Hummingbird
import NIOCore

/// A PutObject or UploadPart body: as sent, or decoded from aws-chunked.
enum UploadBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    case plain(RequestBody)
    case chunked(AWSChunkedBody<RequestBody>)

    func makeAsyncIterator() -> Iterator {
        switch self {
        case .plain(let body): .plain(body.makeAsyncIterator())
        case .chunked(let body): .chunked(body.makeAsyncIterator())
        }
    }

    enum Iterator: AsyncIteratorProtocol {
        case plain(RequestBody.AsyncIterator)
        case chunked(AWSChunkedBody<RequestBody>.Iterator)

        mutating func next() async throws -> ByteBuffer? {
            switch self {
            case .plain(var iterator):
                let chunk = try await iterator.next()
                self = .plain(iterator)
                return chunk
            case .chunked(var iterator):
                let chunk = try await iterator.next()
                self = .chunked(iterator)
                return chunk
            }
        }
    }
}
