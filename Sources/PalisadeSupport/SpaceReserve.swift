import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Room kept on the data folder's disk for the changes that free space or keep locks working when
/// the disk is full: deletes, aborts, lock changes.
///
/// A file of ``size`` bytes (`space.reserve`) holds the room. New object data is admitted only
/// while the reserve is held; a small metadata commit that finds the disk full may ``release()``
/// it and try again. Once released, the reserve is taken again (``refill()``) as soon as the disk
/// has its size and ``startupRoom`` free, and until then new object data is refused (the server
/// is in *low-space* mode).
public final class SpaceReserve: Sendable {
    /// The reserve file.
    public let path: String
    /// The room kept, in bytes; 0 keeps none (and never refuses data for it).
    public let size: UInt64
    private let isHeld = Mutex(false)

    /// A reserve of `size` bytes in `folder`, taken now when the disk has room for it. Create it
    /// before opening the databases: on a disk with less than ``startupRoom`` free it gives its
    /// room back at once, so that they can open (the server then starts in low-space mode).
    public init(folder: String, size: UInt64) {
        self.path = folder + "/space.reserve"
        self.size = size
        if size == 0 || freeBytes.map({ $0 < Self.startupRoom }) == true {
            unlink(path)
        } else {
            refill()
        }
    }

    /// The free space SQLite needs to open its databases (their WAL and shared-memory files).
    public static let startupRoom: UInt64 = 1 << 20

    /// The bytes an unprivileged writer may still use on the folder's disk, or nil when unknown.
    public var freeBytes: UInt64? {
        var stats = statvfs()
        let folder = FolderSync.folder(of: path)
        guard statvfs(folder.isEmpty ? "/" : folder, &stats) == 0 else { return nil }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
    }

    /// Whether the disk is short of space: the reserve is given up, or less than its size is free
    /// besides it (new object data is refused or will soon be).
    public var isLow: Bool {
        guard size > 0 else { return false }
        return !isHeld.withLock { $0 } || freeBytes.map { $0 < size } == true
    }

    /// Whether new object data may be written: the reserve is held, or can be taken now.
    public func admitsData() -> Bool { refill() }

    /// Takes the reserve again when it is not held and the disk has room for it.
    /// - Returns: whether the reserve is held (always true when ``size`` is 0).
    @discardableResult
    public func refill() -> Bool {
        guard size > 0 else { return true }
        return isHeld.withLock { held in
            if held { return true }
            if let stats = fileSize(), stats >= size {
                held = true
                return true
            }
            guard let free = freeBytes, free >= size + Self.startupRoom else { return false }
            let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { return false }
            defer { close(descriptor) }
            guard posix_fallocate(descriptor, 0, off_t(size)) == 0, fsync(descriptor) == 0 else {
                unlink(path)
                return false
            }
            held = true
            return true
        }
    }

    /// Gives the reserve's room back to the disk.
    /// - Returns: whether any room was freed (false when the reserve was not held).
    @discardableResult
    public func release() -> Bool {
        isHeld.withLock { held in
            let existed = unlink(path) == 0
            held = false
            return existed
        }
    }

    private func fileSize() -> UInt64? {
        var stats = stat()
        guard stat(path, &stats) == 0 else { return nil }
        return UInt64(stats.st_blocks) * 512
    }
}

/// Whether a failed system call's `errno` means the disk (or the user's quota) is full.
public func isOutOfSpace(_ code: Int32) -> Bool { code == ENOSPC || code == EDQUOT }
