import NIOCore
import NIOPosix
import PalisadeSupport

#if canImport(Glibc)
import Glibc
#endif

/// Blob files, named by version id (never by user key), under `<data>/blobs/<2 hex>/<id>`.
///
/// A blob is written once to a fresh file, made durable, and only then referenced by a commit; it
/// is never modified. Blocking file calls run on NIO's thread pool, except small one-step reads.
public struct FileBlobStore: Sendable {
    /// The folder that holds the blob shards.
    public let root: String
    let threadPool: NIOThreadPool

    /// Blobs under `root`, which is created when missing.
    public init(root: String, threadPool: NIOThreadPool = .singleton) throws(StorageError) {
        self.root = root
        self.threadPool = threadPool
        for path in [root] + (0..<256).map({ "\(root)/\(Self.shardName($0))" }) {
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw Self.error("create", path) }
        }
    }

    static func shardName(_ shard: Int) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[shard >> 4], digits[shard & 15]])
    }

    func path(of id: String) -> String { "\(root)/\(id.prefix(2))/\(id)" }

    /// Creates the blob `id` for writing; it must not exist.
    public func create(_ id: String) async throws -> BlobWriter {
        let path = path(of: id)
        let descriptor = try await threadPool.runIfActive {
            let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw Self.error("create", path) }
            return descriptor
        }
        return BlobWriter(descriptor: descriptor, path: path, threadPool: threadPool)
    }

    /// Opens the blob `id` for reading; nil when it does not exist (it was replaced and unlinked).
    public func open(_ id: String) async throws -> BlobReader? {
        let path = path(of: id)
        let descriptor = try await threadPool.runIfActive { try Self.openForReading(path) }
        return descriptor.map { BlobReader(descriptor: $0, threadPool: threadPool) }
    }

    /// Opens `path` read-only, blocking; nil when it does not exist.
    static func openForReading(_ path: String) throws -> Int32? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw error("open", path)
        }
        return descriptor
    }

    /// Reads up to `length` bytes at `offset` of the blob `id` in one step (open, read, close): the
    /// path for a read that fits in one chunk, such as a whole small object.
    /// Nil when the blob does not exist.
    public func read(_ id: String, at offset: Int64, length: Int) async throws -> ByteBuffer? {
        let path = path(of: id)
        let read = { @Sendable () throws -> ByteBuffer? in
            guard let descriptor = try Self.openForReading(path) else { return nil }
            defer { close(descriptor) }
            return try BlobReader.read(descriptor, at: offset, length: length)
        }
        return length <= Self.inlineReadLimit ? try read() : try await threadPool.runIfActive(read)
    }

    /// Reads up to this size run on the calling thread, as the metadata reads do: a small read from
    /// the page cache costs less than the two thread switches of a trip to the pool.
    static var inlineReadLimit: Int { 64 * 1024 }

    /// Removes the blob `id`; a reader that has it open keeps reading it.
    public func remove(_ id: String) async {
        let path = path(of: id)
        _ = try? await threadPool.runIfActive { unlink(path) }
    }

    /// The ids of every blob on disk; with `modifiedBefore` (seconds since 1970), only of those
    /// last written before then (a blob being written is never among them).
    public func allIDs(modifiedBefore: Int? = nil) throws -> Set<String> {
        var ids = Set<String>()
        for shard in 0..<256 {
            let folder = "\(root)/\(Self.shardName(shard))"
            guard let directory = opendir(folder) else { continue }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                guard name != "." && name != ".." else { continue }
                if let modifiedBefore {
                    var status = stat()
                    guard stat("\(folder)/\(name)", &status) == 0, status.st_mtim.tv_sec < modifiedBefore else {
                        continue
                    }
                }
                ids.insert(name)
            }
        }
        return ids
    }

    static func error(_ operation: String, _ path: String) -> StorageError {
        StorageError.file(operation, path, errno: errno)
    }
}

/// A blob being written. Call ``finish(durable:)`` to keep it or ``abort()`` to remove it.
public struct BlobWriter: Sendable {
    let descriptor: Int32
    let path: String
    let threadPool: NIOThreadPool

    /// Appends `buffer` to the blob.
    public func append(_ buffer: ByteBuffer) async throws {
        let descriptor = descriptor
        let path = path
        try await threadPool.runIfActive {
            try buffer.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw FileBlobStore.error("write", path)
                    }
                    offset += written
                }
            }
        }
    }

    /// Closes the blob; with `durable`, first fsyncs it and its folder, so it survives a power loss.
    public func finish(durable: Bool) async throws {
        let descriptor = descriptor
        let path = path
        try await threadPool.runIfActive {
            defer { close(descriptor) }
            if durable {
                guard fsync(descriptor) == 0 else { throw FileBlobStore.error("fsync", path) }
                let folder = FolderSync.folder(of: path)
                errno = FolderSync.sync(folder)
                guard errno == 0 else { throw FileBlobStore.error("fsync", folder) }
            }
        }
    }

    /// Closes and removes the blob: a write that did not commit leaves nothing on disk.
    public func abort() async {
        let descriptor = descriptor
        let path = path
        _ = try? await threadPool.runIfActive {
            close(descriptor)
            unlink(path)
        }
    }
}

/// An open blob. It stays readable after the blob is unlinked (a snapshot of its version).
public final class BlobReader: Sendable {
    let descriptor: Int32
    let threadPool: NIOThreadPool

    init(descriptor: Int32, threadPool: NIOThreadPool) {
        self.descriptor = descriptor
        self.threadPool = threadPool
    }

    deinit { close(descriptor) }

    /// Reads up to `length` bytes at `offset`.
    public func read(at offset: Int64, length: Int) async throws -> ByteBuffer {
        let descriptor = descriptor
        return try await threadPool.runIfActive { try Self.read(descriptor, at: offset, length: length) }
    }

    /// Reads up to `length` bytes at `offset` of an open file, blocking.
    static func read(_ descriptor: Int32, at offset: Int64, length: Int) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { bytes in
            while true {
                let count = pread(descriptor, bytes.baseAddress!, length, off_t(offset))
                if count >= 0 { return count }
                if errno != EINTR {
                    throw StorageError(.internalError, "cannot read a blob: \(String(cString: strerror(errno)))")
                }
            }
        }
        guard count > 0 else { throw StorageError(.internalError, "a blob is shorter than its metadata says") }
        return buffer
    }
}
