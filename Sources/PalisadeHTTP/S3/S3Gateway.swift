import Crypto
import Foundation
import HTTPTypes
public import Hummingbird
import Logging
public import Metrics
public import PalisadeAuth
import PalisadeProtocol
public import StorageEngine

/// The S3-compatible gateway: every request outside `/_palisade/` (path-style addressing).
///
/// It authenticates (SigV4 header or presigned URL), decodes the body (plain, or aws-chunked with
/// chunk signatures or a checksum trailer), calls the ``ObjectStore`` and renders S3's XML.
/// Every failure becomes an ``S3Error`` in ``handle(_:context:next:)``; no rule of the store lives here.
public struct S3Gateway: RouterMiddleware {
    public typealias Context = PalisadeRequestContext

    let store: ObjectStore
    let verifier: SigV4Verifier
    let domain: String?
    /// Requests refused because the disk is full.
    let insufficientStorage: Counter
    let metricsFactory: any MetricsFactory
    /// The S3 error codes of fencing refusals, each counted in `palisade_fencing_refusals_total{reason}`.
    static let fencingRefusals = Set(
        [StorageError.Code.staleFencingToken, .lockNotHeld, .fencingTokenRequired, .fencingLockMismatch].map(\.rawValue)
    )

    /// A gateway over `store`, accepting requests signed by `verifier`'s credentials.
    /// - Parameter domain: enables virtual-host style: `bucket.domain` in the Host header.
    public init(
        store: ObjectStore,
        verifier: SigV4Verifier,
        domain: String? = nil,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.store = store
        self.verifier = verifier
        self.domain = domain
        self.insufficientStorage = Counter(label: "palisade_insufficient_storage_total", factory: metricsFactory)
        self.metricsFactory = metricsFactory
    }

    /// Sub-resources that Palisade does not implement: 501, never a wrong success.
    static let unsupportedSubresources: Set<String> = [
        "acl", "policy", "cors", "lifecycle", "website", "logging", "notification", "replication", "encryption",
        "object-lock", "retention", "legal-hold", "torrent", "restore", "select", "attributes", "versions", "tagging",
        "requestPayment", "accelerate", "analytics", "inventory", "metrics",
        "intelligent-tiering", "ownershipControls", "publicAccessBlock", "policyStatus", "versionId",
    ]

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if PalisadePaths.isReserved(request.head.path ?? "/") { return try await next(request, context) }
        let s3 = S3Request(request, domain: domain)
        context.notes.update {
            $0.operation = S3Operation.name(of: s3)
            $0.bucket = s3.bucket
            $0.key = s3.key
        }
        var response: Response
        do {
            guard !s3.hasUndecodablePath else {
                throw S3Error(.badRequest, "InvalidURI", "the path's percent-escapes do not decode to UTF-8")
            }
            if s3.isBrowserFormUpload {
                throw S3Error.notImplemented(
                    "a browser form upload (POST Object, generate_presigned_post); a presigned PUT URL does the same"
                )
            }
            let verified = try authenticate(s3)
            context.notes.update { $0.accessKeyID = verified.accessKeyID }
            response = try await route(s3, request: request, verified: verified, context: context)
        } catch {
            let s3Error = Self.s3Error(for: error)
            if s3Error.status == .internalServerError {
                context.logger.error(
                    "S3 request failed",
                    metadata: ["error": "\(error)", "request_id": "\(context.requestID)"]
                )
            } else if Self.fencingRefusals.contains(s3Error.code) {
                Counter(
                    label: "palisade_fencing_refusals_total",
                    dimensions: [("reason", s3Error.code)],
                    factory: metricsFactory
                ).increment()
            } else if s3Error.status == S3Error.insufficientStorage {
                insufficientStorage.increment()
                context.logger.warning(
                    "S3 write refused: the disk is full",
                    metadata: ["error": "\(error)", "request_id": "\(context.requestID)"]
                )
            }
            response = s3Error.response(resource: s3.resource, requestID: context.requestID, isHead: s3.method == .head)
            if s3.mayHaveUnreadBody { response.headers[.connection] = "close" }
        }
        response.headers[HTTPField.Name("x-amz-request-id")!] = context.requestID
        return response
    }

    static func s3Error(for error: any Error) -> S3Error {
        switch error {
        case let error as S3Error: error
        case let error as StorageError: S3Error(error)
        case let error as SigV4Error: S3Error(error)
        case let error as any HTTPResponseError where error.status == .contentTooLarge:
            S3Error(.contentTooLarge, "EntityTooLarge", "your proposed upload exceeds the maximum allowed size")
        default: S3Error(.badRequest, "IncompleteBody", "the request body could not be read: \(error)")
        }
    }

    func authenticate(_ s3: S3Request) throws -> SigV4Verifier.Verified {
        if s3.query["Signature"] != nil || s3.header("authorization")?.hasPrefix("AWS ") == true {
            return try verifier.verifyV2(
                method: s3.method.rawValue,
                path: s3.rawPath,
                query: s3.rawQuery,
                headers: s3.signableHeaders,
                bucketFromHost: s3.isVirtualHosted ? s3.bucket : nil,
                now: Date()
            )
        }
        if s3.query["X-Amz-Signature"] != nil {
            return try verifier.verifyPresigned(
                method: s3.method.rawValue,
                path: s3.rawPath,
                query: s3.rawQuery,
                headers: s3.signableHeaders,
                now: Date()
            )
        }
        return try verifier.verify(
            method: s3.method.rawValue,
            path: s3.rawPath,
            query: s3.rawQuery,
            headers: s3.signableHeaders,
            bodyHash: nil,
            now: Date()
        )
    }

    func route(
        _ s3: S3Request,
        request: Request,
        verified: SigV4Verifier.Verified,
        context: Context
    ) async throws -> Response {
        if s3.query["versioning"] != nil, s3.key == nil, s3.bucket != nil, s3.method != .get {
            throw S3Error.notImplemented("versioning")
        }
        if let unsupported = s3.query.keys.first(where: Self.unsupportedSubresources.contains) {
            throw S3Error.notImplemented("the ?\(unsupported) sub-resource")
        }
        let policy = verifier.users.policy(of: verified.accessKeyID)
        try Self.authorize(s3, policy: policy, accessKeyID: verified.accessKeyID)
        guard let bucket = s3.bucket else {
            guard s3.method == .get else { throw S3Error.methodNotAllowed }
            return try await listBuckets(s3)
        }
        guard let key = s3.key else {
            switch s3.method {
            case .put: return try await createBucket(bucket, s3: s3, request: request, verified: verified)
            case .head:
                try await store.requireBucket(bucket)
                return Response(status: .ok)
            case .delete:
                try await store.deleteBucket(bucket)
                return Response(status: .noContent)
            case .get where s3.query["location"] != nil:
                try await store.requireBucket(bucket)
                return Self.xml(S3XML.document("LocationConstraint", []))
            case .get where s3.query["versioning"] != nil:
                // Never versioned: the empty configuration S3 answers for such a bucket.
                try await store.requireBucket(bucket)
                return Self.xml(S3XML.document("VersioningConfiguration", []))
            case .get where s3.query["uploads"] != nil:
                return try await listMultipartUploads(bucket, s3: s3)
            case .get where s3.query["list-type"] == "2":
                return try await listObjects(bucket, s3: s3, version: 2)
            case .get:
                return try await listObjects(bucket, s3: s3, version: 1)
            case .post where s3.query["delete"] != nil:
                return try await deleteObjects(bucket, s3: s3, request: request, verified: verified, policy: policy)
            default:
                throw S3Error.methodNotAllowed
            }
        }
        try StorageError.requireValidKey(key)
        try UnsupportedFeatures.refuseCustomerKeys(s3)
        if s3.query["uploads"] != nil || s3.query["uploadId"] != nil {
            return try await routeMultipart(bucket: bucket, key: key, s3: s3, request: request, verified: verified)
        }
        switch s3.method {
        case .put where s3.header("x-amz-copy-source") != nil:
            return try await copyObject(bucket: bucket, key: key, s3: s3, accessKeyID: verified.accessKeyID)
        case .put:
            return try await putObject(bucket: bucket, key: key, s3: s3, request: request, verified: verified)
        case .get, .head:
            return try await getObject(bucket: bucket, key: key, s3: s3)
        case .delete:
            return try await deleteObject(bucket: bucket, key: key, s3: s3, accessKeyID: verified.accessKeyID)
        default:
            throw S3Error.methodNotAllowed
        }
    }

    /// The whole body of a request that carries an XML document (CreateBucket, DeleteObjects,
    /// CompleteMultipartUpload), returned only once it matches the signed `x-amz-content-sha256`
    /// and any `Content-MD5`: nothing acts on bytes the signer did not sign. `UNSIGNED-PAYLOAD` (a
    /// presigned URL, or a client's choice) leaves the body unprotected, as in S3.
    static func signedDocument(
        _ request: Request,
        s3: S3Request,
        verified: SigV4Verifier.Verified,
        upTo limit: Int
    ) async throws -> Data {
        let claimed = verified.claimedPayloadHash ?? SigV4.unsignedPayload
        if claimed.hasPrefix("STREAMING-") {
            throw S3Error.notImplemented("the payload signing mode \(claimed) for a request other than an upload")
        }
        var request = request
        let data = Data(try await request.collectBody(upTo: limit).readableBytesView)
        if claimed != SigV4.unsignedPayload, claimed != SigV4.hexSHA256(data) {
            throw S3Error(
                .badRequest,
                "XAmzContentSHA256Mismatch",
                "the provided 'x-amz-content-sha256' header does not match what was computed"
            )
        }
        if let md5 = s3.header("content-md5"), md5 != Data(Insecure.MD5.hash(data: data)).base64EncodedString() {
            throw S3Error(.badRequest, "BadDigest", "the Content-MD5 you specified did not match what we received")
        }
        return data
    }

    static func xml(_ document: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/xml"],
            body: .init(byteBuffer: ByteBuffer(string: document))
        )
    }
}
