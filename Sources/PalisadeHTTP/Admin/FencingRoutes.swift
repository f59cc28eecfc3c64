import Foundation
import Hummingbird
import PalisadeProtocol
import StorageCore
import StorageEngine

/// The operator's fencing settings: which paths require a fencing token on every write.
struct FencingRoutes: Sendable {
    let store: ObjectStore
    let authorizer: LockAuthorizer

    /// Adds `GET` and `PUT admin/fencing` under `group` (mounted at `/_palisade/v1`).
    func register(on group: RouterGroup<PalisadeRequestContext>) {
        group.get("admin/fencing") { _, context in
            try authorizer.require(.s3(Permission.Lock.getFencing, bucket: "*"), for: context)
            return try await settings()
        }
        group.put("admin/fencing") { request, context in
            let buffer = try await request.body.collect(upTo: LockAPILimits.maximumBodyBytes)
            let body = try JSONDecoder().decode(SetFencingRequest.self, from: Data(buffer.readableBytesView))
            guard let path = FencedPath(body.path), ObjectStore.bucketNameProblem(path.bucket) == nil else {
                throw LockAPIError(
                    .badRequest,
                    LockAPIErrorCode.invalidArgument,
                    "path is BUCKET or BUCKET/PREFIX with a valid bucket name"
                )
            }
            try authorizer.require(
                .s3(Permission.Lock.setFencing, bucket: path.bucket, key: path.prefix.isEmpty ? nil : path.prefix),
                for: context
            )
            try await store.setFenced(path, body.fenced)
            return try await settings()
        }
    }

    private func settings() async throws -> Response {
        let body = FencingSettingsResponse(fencedPaths: try await store.fencedPaths().map(\.description))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(body)))
        )
    }
}
