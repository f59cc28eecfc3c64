import PalisadeSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fencing-token high-water mark on disk: the highest token that may have been issued.
///
/// Each write goes to a temporary file that is fsynced and renamed over the old one, and the folder
/// is fsynced, so the mark survives a crash or power loss. The service writes it once per
/// reservation of tokens (not per grant) and issues tokens only below what is written.
public struct TokenHighWaterMark: Sendable {
    /// Where the mark lives.
    public let path: String

    /// A mark stored at `path` (its folder must exist).
    public init(path: String) { self.path = path }

    /// Reads the mark; 0 when no mark was ever written.
    /// - Throws: ``LockStorageError`` when the file exists but cannot be read or parsed.
    public func read() throws(LockStorageError) -> UInt64 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return 0 }
            throw LockStorageError("cannot open \(path)", errno: errno)
        }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { throw LockStorageError("cannot read \(path)", errno: errno) }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingSuffixNewlines
        guard let value = UInt64(text) else { throw LockStorageError("\(path) does not hold a token high-water mark") }
        return value
    }

    /// Durably replaces the mark with `value`.
    /// - Throws: ``LockStorageError`` when any step of the write fails; the old mark then stands.
    public func write(_ value: UInt64) throws(LockStorageError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw LockStorageError("cannot create \(temporary)", errno: errno) }
        let bytes = Array("\(value)\n".utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        var failure = written < 0 ? errno : written < bytes.count ? ENOSPC : 0
        if failure == 0, fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        guard failure == 0 else {
            // Leave nothing behind: the old mark stands.
            unlink(temporary)
            throw LockStorageError("cannot write \(temporary)", errno: failure)
        }
        let folder = FolderSync.folder(of: path)
        let syncFailure = FolderSync.sync(folder)
        guard syncFailure == 0 else { throw LockStorageError("cannot sync folder \(folder)", errno: syncFailure) }
    }
}

extension String {
    fileprivate var trimmingSuffixNewlines: String {
        var text = Substring(self)
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return String(text)
    }
}

/// A failure to read or write the lock service's files.
public struct LockStorageError: Error, CustomStringConvertible, Sendable {
    /// What failed, with the system's reason when there is one.
    public var description: String

    /// An error for `what`, with the text of `errno` when given.
    public init(_ what: String, errno code: Int32? = nil) {
        if let code, let reason = strerror(code) {
            description = "\(what): \(String(cString: reason))"
        } else {
            description = what
        }
    }
}
