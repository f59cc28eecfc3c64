import Foundation
import HTTPTypes
import Hummingbird
import PalisadeAuth
import StorageEngine

/// An S3 error: a status and an `<Error><Code/><Message/><Resource/><RequestId/></Error>` body.
///
/// Every failure of an S3 request becomes one of these in one place, the gateway's `respond`.
public struct S3Error: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Extra headers, such as `Content-Range` on `InvalidRange`.
    var headers: [String: String] = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The S3 form of an object store refusal.
    init(_ error: StorageError) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .noSuchBucket, .noSuchKey, .noSuchUpload: .notFound
            case .bucketAlreadyOwnedByYou, .bucketNotEmpty, .conditionalRequestConflict, .staleFencingToken,
                .lockNotHeld, .writeIDAlreadyCommitted, .writeIDAbandoned, .writeIDMismatch:
                .conflict
            case .fencingTokenRequired, .fencingLockMismatch: .forbidden
            case .preconditionFailed: .preconditionFailed
            case .internalError: .internalServerError
            case .insufficientStorage: Self.insufficientStorage
            case .serviceUnavailable: .serviceUnavailable
            default: .badRequest
            }
        self.init(status, error.code.rawValue, error.message)
    }

    /// The S3 form of an authentication failure.
    init(_ error: SigV4Error) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .missingAuthentication, .invalidAccessKeyID, .signatureDoesNotMatch, .requestTimeTooSkewed,
                .expiredRequest, .headersNotSigned:
                .forbidden
            case .authorizationHeaderMalformed, .contentSHA256Mismatch, .authorizationQueryParametersError:
                .badRequest
            }
        let code =
            error.code == .missingAuthentication || error.code == .headersNotSigned
            ? "AccessDenied" : error.code.rawValue
        self.init(status, code, error.message)
    }

    /// 507: the disk is full (as MinIO and WebDAV answer).
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")

    static func notImplemented(_ what: String) -> S3Error {
        S3Error(.notImplemented, "NotImplemented", "\(what) is not implemented by Palisade")
    }

    static func invalidArgument(_ message: String) -> S3Error { S3Error(.badRequest, "InvalidArgument", message) }

    static let malformedXML = S3Error(
        .badRequest,
        "MalformedXML",
        "the XML you provided was not well-formed or did not validate"
    )

    static let methodNotAllowed = S3Error(
        .methodNotAllowed,
        "MethodNotAllowed",
        "the method is not allowed against this resource"
    )

    /// The XML response; HEAD requests get the status and headers without a body.
    func response(resource: String, requestID: String, isHead: Bool) -> Response {
        var fields = HTTPFields()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        guard !isHead else { return Response(status: status, headers: fields) }
        fields[.contentType] = "application/xml"
        let body = document(resource: resource, requestID: requestID)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The `<Error>` XML document.
    func document(resource: String, requestID: String) -> String {
        S3XML.document(
            "Error",
            [
                .text("Code", code), .text("Message", message), .text("Resource", resource),
                .text("RequestId", requestID),
            ],
            namespaced: false
        )
    }
}
