import Synchronization

/// Counts the readers of each object version in this process, so that a replaced or deleted
/// version's blobs are unlinked only when no read of it is still streaming (snapshot reads).
final class VersionReaders: Sendable {
    private struct State {
        var counts: [String: Int] = [:]
        /// Blobs to unlink when the version's last reader closes.
        var retired: [String: [String]] = [:]
    }

    private let state = Mutex(State())

    func retain(_ versionID: String) {
        state.withLock { $0.counts[versionID, default: 0] += 1 }
    }

    /// Ends one read. - Returns: the blobs to unlink now (the version was retired and this was its last reader).
    func release(_ versionID: String) -> [String] {
        state.withLock { state in
            let remaining = (state.counts[versionID] ?? 1) - 1
            state.counts[versionID] = remaining > 0 ? remaining : nil
            return remaining > 0 ? [] : state.retired.removeValue(forKey: versionID) ?? []
        }
    }

    /// Retires a version. - Returns: true when nobody reads it (unlink `blobs` now); otherwise they are
    /// unlinked by the last ``release(_:)``.
    func retireWhenUnread(_ versionID: String, blobs: [String]) -> Bool {
        state.withLock { state in
            guard state.counts[versionID] != nil else { return true }
            state.retired[versionID] = blobs
            return false
        }
    }
}
