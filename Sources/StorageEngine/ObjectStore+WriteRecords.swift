import StorageCore

/// Named writes (``WriteRecord``): what became of a write whose answer the client never got.
extension ObjectStore {
    /// How long a write record is kept, ms: a day.
    public static let writeRecordRetention: Int64 = 24 * 60 * 60 * 1000

    /// A named write must reach its commit within this long of its arrival (half the retention),
    /// so that no write can still commit under a name whose record has been removed.
    static var namedWriteDeadline: Int64 { writeRecordRetention / 2 }

    /// The name a multipart upload's completion is recorded under, so that a repeated completion
    /// is answered with the first one's result.
    public static func completionName(of uploadID: String) -> String { "upload/\(uploadID)" }

    /// The record of the write named `name`, or nil while no write under it has committed.
    public func writeRecord(named name: String) async throws -> WriteRecord? {
        try await metadata.writeRecord(named: name)
    }

    /// What became of the write named `name`, for good: its record when it committed; otherwise
    /// the name is declared abandoned, in one commit, so a write under it that is still in flight
    /// is refused at its commit point, and "not committed" stays true.
    public func settle(writeNamed name: String) async throws -> WriteRecord {
        let now = Self.now()
        return try await metadata.commit(TransactionScope(writeNames: [name]), freesSpace: true) {
            try CommitPoint.settle(writeNamed: name, at: now, in: $0)
        }.value
    }

    /// Removes the write records older than ``writeRecordRetention`` at `now` (ms since 1970).
    /// - Returns: how many.
    @discardableResult
    public func removeExpiredWriteRecords(now: Int64 = ObjectStore.now()) async throws -> Int {
        try await metadata.removeWriteRecords(recordedBefore: now - Self.writeRecordRetention)
    }

    /// Refuses a named write that arrived at `arrivedAt` and reaches its commit only past
    /// ``namedWriteDeadline``.
    static func requireTimely(_ intent: WriteIntent) throws {
        guard !intent.names.isEmpty, now() - intent.recordedAt > namedWriteDeadline else { return }
        throw StorageError(
            .serviceUnavailable,
            "this named write took longer than its deadline to reach its commit: nothing was committed"
        )
    }
}
