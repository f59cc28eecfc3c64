public import NIOCore
public import StorageCore

/// An open object version: its head and its bytes, whole or a range, across all its blobs.
/// The version's blobs stay on disk until ``close()``, even if the key is overwritten or deleted.
public struct ObjectReader: Sendable {
    public let head: ObjectHead
    let store: ObjectStore

    /// The bytes in `range`, in chunks.
    public func chunks(_ range: Range<Int64>) -> ObjectChunks {
        ObjectChunks(segments: head.segments, range: range, blobs: store.blobs, inlineData: head.inlineData)
    }

    /// The byte range of part `number` (1-based) of a multipart object, or of the whole object as part 1.
    public func partRange(_ number: Int) -> Range<Int64>? {
        guard number >= 1, number <= head.segments.count else { return nil }
        let start = head.segments[..<(number - 1)].reduce(0) { $0 + $1.size }
        return start..<(start + head.segments[number - 1].size)
    }

    /// Ends the read; a retired version's blobs are unlinked when its last reader closes.
    public func close() async {
        await store.release(head.versionID)
    }
}

/// The bytes of a range of an object, read blob by blob in chunks.
public struct ObjectChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    let segments: [ObjectHead.Segment]
    let range: Range<Int64>
    let blobs: FileBlobStore
    /// The object's bytes, when its head holds them (then no blob is read).
    let inlineData: [UInt8]?

    public func makeAsyncIterator() -> Iterator {
        Iterator(segments: segments, range: range, blobs: blobs, inlineData: inlineData)
    }

    public struct Iterator: AsyncIteratorProtocol {
        /// Large enough that a big read is not bound by its trips to the thread pool, small enough
        /// that a stream holds little memory (about two chunks).
        static var chunkSize: Int64 { 1024 * 1024 }

        let segments: [ObjectHead.Segment]
        let range: Range<Int64>
        let blobs: FileBlobStore
        var position: Int64
        var segmentIndex = 0
        var segmentStart: Int64 = 0
        var reader: BlobReader?
        let inlineData: [UInt8]?

        init(segments: [ObjectHead.Segment], range: Range<Int64>, blobs: FileBlobStore, inlineData: [UInt8]?) {
            self.segments = segments
            self.range = range
            self.blobs = blobs
            self.position = range.lowerBound
            self.inlineData = inlineData
        }

        static var missingBlob: StorageError {
            StorageError(.internalError, "the blob of a version being read is missing")
        }

        public mutating func next() async throws -> ByteBuffer? {
            guard position < range.upperBound else { return nil }
            if let inlineData {
                let end = Swift.min(range.upperBound, Int64(inlineData.count))
                guard position < end else { return nil }
                defer { position = range.upperBound }
                return ByteBuffer(bytes: inlineData[Int(position)..<Int(end)])
            }
            while segmentIndex < segments.count, position >= segmentStart + segments[segmentIndex].size {
                segmentStart += segments[segmentIndex].size
                segmentIndex += 1
                reader = nil
            }
            guard segmentIndex < segments.count else { return nil }
            let segment = segments[segmentIndex]
            let offset = position - segmentStart
            let remaining = Swift.min(segment.size - offset, range.upperBound - position)
            let length = Swift.min(Self.chunkSize, remaining)
            let chunk: ByteBuffer
            if let reader {
                chunk = try await reader.read(at: offset, length: Int(length))
            } else if length == remaining {
                // The rest of this segment's read is one chunk: open, read and close in one step.
                guard let whole = try await blobs.read(segment.blobID, at: offset, length: Int(length)) else {
                    throw Self.missingBlob
                }
                chunk = whole
            } else {
                guard let opened = try await blobs.open(segment.blobID) else { throw Self.missingBlob }
                reader = opened
                chunk = try await opened.read(at: offset, length: Int(length))
            }
            position += Int64(chunk.readableBytes)
            return chunk
        }
    }
}
