#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes a folder's entries durable: after a file in it is created, renamed or removed, the change
/// survives a power loss only once the folder itself is fsynced.
public enum FolderSync {
    /// Fsyncs `folder`.
    /// - Returns: 0 on success, else the `errno` of the step that failed.
    public static func sync(_ folder: String) -> Int32 {
        let descriptor = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return errno }
        defer { close(descriptor) }
        return fsync(descriptor) == 0 ? 0 : errno
    }

    /// The folder that holds `path` ("." for a bare name).
    public static func folder(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    }
}
