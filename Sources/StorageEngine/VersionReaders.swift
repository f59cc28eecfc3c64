import Synchronization

/// Counts the readers of each object version in this process, so that a replaced or deleted
/// version's blobs are unlinked only when no read of it is still streaming (snapshot reads).
final class VersionReaders: Sendable {
    private struct State {
        var counts: [String: Int] = [:]
        /// Blobs to unlink when the version's last reader closes.
        var retired: [String: [String]] = [:]
        /// How many versions have been retired so far.
        var retirements: UInt64 = 0
    }

    private let state = Mutex(State())

    /// A mark to take before looking up the version that ``retain(_:unlessRetiredSince:)`` will retain.
    func retirementMark() -> UInt64 {
        state.withLock { $0.retirements }
    }

    /// Counts one more reader of `versionID`.
    /// - Returns: true when no version was retired since `mark`: then the version looked up after the
    ///   mark is still on disk, and any later retirement of it waits for this reader. When false, the
    ///   caller must check that the version is still current (the reader is counted either way).
    func retain(_ versionID: String, unlessRetiredSince mark: UInt64) -> Bool {
        state.withLock { state in
            state.counts[versionID, default: 0] += 1
            return state.retirements == mark
        }
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
            state.retirements += 1
            guard state.counts[versionID] != nil else { return true }
            state.retired[versionID] = blobs
            return false
        }
    }
}
