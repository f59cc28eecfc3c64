/// HTTP header names of the Palisade protocols (see `Protocol/lock-api.md`).
public enum PalisadeHeaders {
    /// On a storage write: the name of the lock the writer holds.
    public static let lock = "x-palisade-lock"
    /// On a storage write: the fencing token of the writer's grant, in decimal.
    public static let fencingToken = "x-palisade-fencing-token"
    /// On every committed storage write and on reads: the server-wide commit sequence of the version
    /// (strictly increasing in commit order, so "who won" never depends on clocks).
    public static let commitSequence = "x-palisade-commit-sequence"
    /// On a storage write (PutObject, CopyObject, CompleteMultipartUpload, DeleteObject): the
    /// client's name for the write, 1–128 of `A–Z a–z 0–9 . _ : -`. A retry under the same id is
    /// answered with the first attempt's outcome; `/_palisade/v1/writes/ID` tells what became of it.
    public static let writeID = "x-palisade-write-id"
    /// On the answer to a named write that committed before: `true` (nothing was written again).
    public static let writeReplayed = "x-palisade-write-replayed"
    /// On every response: the id of the request, also found in JSON error bodies and logs.
    public static let requestID = "x-palisade-request-id"
}

/// Paths of the lock API, under the reserved prefix `/_palisade/` (S3 bucket names cannot start with `_`).
public enum PalisadePaths {
    /// The reserved prefix that no S3 bucket can use.
    public static let root = "/_palisade"
    /// The versioned lock API.
    public static let v1 = "/_palisade/v1"
    /// The lock session endpoint below ``v1`` (a WebSocket; `Protocol/lock-sessions.md`).
    public static let session = "/session"
    /// Liveness and readiness, unauthenticated.
    public static let health = "/_palisade/health"
    /// Prometheus metrics, unauthenticated.
    public static let metrics = "/_palisade/metrics"

    /// Whether a request target (path and query) is under ``root``: Palisade's own, never S3's.
    public static func isReserved(_ target: String) -> Bool {
        target == root || target.hasPrefix(root + "/") || target.hasPrefix(root + "?")
    }
}
