import HTTPTypes
import Hummingbird
import PalisadeProtocol
import StorageCore
import StorageEngine

/// Named writes: a write sent with `x-palisade-write-id` is recorded under that id (scoped by the
/// signer's access key) by its own commit; a retry finds the record and is answered with the first
/// outcome instead of writing again.
extension S3Gateway {
    /// The store's name for the write id of `s3`, or nil when it carries none.
    static func writeName(of s3: S3Request, accessKeyID: String) throws -> String? {
        guard let id = s3.header(PalisadeHeaders.writeID) else { return nil }
        if let problem = WriteID.validationFailure(id) { throw S3Error.invalidArgument(problem) }
        return storeName(ofWriteID: id, accessKeyID: accessKeyID)
    }

    /// Write ids are the client's own: two access keys may use the same id for different writes.
    static func storeName(ofWriteID id: String, accessKeyID: String) -> String { "id/\(accessKeyID)/\(id)" }

    /// What an earlier attempt of this write committed, when one did; nil to write now.
    /// - Throws: `WriteIdAbandoned` when the id was settled as not committed, `WriteIdMismatch`
    ///   when it names a write of another kind or key.
    func earlierAttempt(
        named name: String?,
        kind: WriteIntent.Kind,
        bucket: String,
        key: String
    ) async throws -> CommittedWrite? {
        guard let name, let record = try await store.writeRecord(named: name) else { return nil }
        guard let committed = record.committed else { throw StorageError(CommitRejection.writeAbandoned) }
        guard committed.kind == kind, committed.bucket == bucket, committed.key == key else {
            throw S3Error(
                .conflict,
                StorageError.Code.writeIDMismatch.rawValue,
                "this write id already names another write (\(committed.kind.rawValue) of \(committed.bucket)/\(committed.key)): a write id names one write"
            )
        }
        return committed
    }

    /// The headers of an answer replayed from `committed`.
    static func replayedHeaders(_ committed: CommittedWrite) -> HTTPFields {
        var headers = HTTPFields()
        headers[HTTPField.Name(PalisadeHeaders.writeReplayed)!] = "true"
        if let sequence = committed.commitSequence {
            headers[HTTPField.Name(PalisadeHeaders.commitSequence)!] = String(sequence)
        }
        if let etag = committed.etag { headers[.eTag] = "\"\(etag)\"" }
        return headers
    }

    /// Reads and drops the body of a request answered without it (a replayed PUT), so the
    /// connection stays usable and the client is not cut off while it sends.
    static func discardBody(of request: Request) async throws {
        for try await _ in request.body {}
    }
}
