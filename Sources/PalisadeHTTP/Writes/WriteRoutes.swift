import Foundation
import Hummingbird
import PalisadeProtocol
import StorageCore
import StorageEngine

/// What became of a named write (`x-palisade-write-id`), for the access key that named it:
/// `GET writes/ID` reads the record, `POST writes/ID/settle` makes the answer final.
struct WriteRoutes: Sendable {
    let store: ObjectStore

    /// Adds the routes under `group` (mounted at `/_palisade/v1`, signed).
    func register(on group: RouterGroup<PalisadeRequestContext>) {
        group.get("writes/:id") { _, context in
            let id = try Self.writeID(context)
            let name = S3Gateway.storeName(ofWriteID: id, accessKeyID: context.accessKeyID)
            return try Self.response(id, try await store.writeRecord(named: name))
        }
        group.post("writes/:id/settle") { _, context in
            let id = try Self.writeID(context)
            let name = S3Gateway.storeName(ofWriteID: id, accessKeyID: context.accessKeyID)
            return try Self.response(id, try await store.settle(writeNamed: name))
        }
    }

    private static func writeID(_ context: PalisadeRequestContext) throws -> String {
        let id = context.parameters.get("id") ?? ""
        if let problem = WriteID.validationFailure(id) {
            throw LockAPIError(.badRequest, LockAPIErrorCode.invalidArgument, problem)
        }
        return id
    }

    private static func response(_ id: String, _ record: WriteRecord?) throws -> Response {
        var body = WriteOutcomeResponse(writeID: id, status: .unknown)
        if let record {
            body.status = record.committed == nil ? .notCommitted : .committed
            body.operation = record.committed?.kind.rawValue
            body.bucket = record.committed?.bucket
            body.key = record.committed?.key
            body.versionID = record.committed?.versionID
            body.etag = record.committed?.etag
            body.commitSequence = record.committed?.commitSequence
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(body)))
        )
    }
}
