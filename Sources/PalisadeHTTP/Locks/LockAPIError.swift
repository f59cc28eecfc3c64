import Foundation
public import HTTPTypes
import Hummingbird
import LockCore
import PalisadeAuth
import PalisadeProtocol

/// A lock API error: an HTTP status and a `{code, message, request_id}` JSON body.
///
/// Every failure of a `/_palisade/` request becomes one of these in exactly one place,
/// ``ErrorMiddleware``; the initializers below say which code each failure gets.
public struct LockAPIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// One of ``LockAPIErrorCode``.
    public var code: String
    public var message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The wire form of a lock service refusal.
    public init(_ error: LockError) {
        switch error.code {
        case .leaseNotFound: self.init(.notFound, LockAPIErrorCode.leaseNotFound, error.message)
        case .notHolder: self.init(.conflict, LockAPIErrorCode.notHolder, error.message)
        case .lockHeld: self.init(.conflict, LockAPIErrorCode.lockHeld, error.message)
        case .waitTimeout: self.init(.requestTimeout, LockAPIErrorCode.waitTimeout, error.message)
        case .modeConflict: self.init(.conflict, LockAPIErrorCode.modeConflict, error.message)
        case .superseded: self.init(.conflict, LockAPIErrorCode.acquireSuperseded, error.message)
        case .leaseLost: self.init(.conflict, LockAPIErrorCode.leaseLost, error.message)
        case .cancelled: self.init(.conflict, LockAPIErrorCode.acquireCancelled, error.message)
        case .invalidTTL: self.init(.badRequest, LockAPIErrorCode.invalidTTL, error.message)
        case .invalidWait: self.init(.badRequest, LockAPIErrorCode.invalidArgument, error.message)
        case .tokensUnavailable, .shuttingDown:
            self.init(.serviceUnavailable, LockAPIErrorCode.serviceUnavailable, error.message)
        case .storageUnavailable:
            self.init(.serviceUnavailable, LockAPIErrorCode.storageUnavailable, error.message)
        case .tooManyLeases: self.init(.tooManyRequests, LockAPIErrorCode.tooManyLeases, error.message)
        case .tooManyWaiters: self.init(.tooManyRequests, LockAPIErrorCode.tooManyWaiters, error.message)
        default: self.init(.internalServerError, LockAPIErrorCode.internalError, error.message)
        }
    }

    /// The wire form of an authentication failure.
    public init(_ error: SigV4Error) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .missingAuthentication: .unauthorized
            case .authorizationHeaderMalformed, .contentSHA256Mismatch, .authorizationQueryParametersError: .badRequest
            case .invalidAccessKeyID, .signatureDoesNotMatch, .requestTimeTooSkewed, .expiredRequest, .headersNotSigned:
                .forbidden
            }
        self.init(status, error.code.rawValue, error.message)
    }

    /// The wire form of a body that does not decode, when the decoder could not say which field
    /// failed (Foundation's decoder on Linux does not for a number that does not fit): the first
    /// number in `body` that is not a whole number from 0 to 2⁶⁴ − 1 is named, else `error` decides.
    init(_ error: DecodingError, body: Data) {
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
            let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let field = object.keys.sorted().first(where: { Self.isUnfitNumber(object[$0]) })
        {
            self.init(
                .badRequest,
                field == "ttl_ms" ? LockAPIErrorCode.invalidTTL : LockAPIErrorCode.invalidArgument,
                "\(field) is out of range: a whole number from 0 to 18446744073709551615 is expected"
            )
        } else {
            self.init(error)
        }
    }

    /// Whether `value` is a JSON number no integer field accepts: a fraction, or a value out of
    /// range (negative whole numbers count too: only unsigned fields fail on them).
    private static func isUnfitNumber(_ value: Any?) -> Bool {
        guard let number = (value as? NSNumber)?.doubleValue else { return false }
        return number < 0 || number != number.rounded(.towardZero) || number >= 18_446_744_073_709_551_616
    }

    /// The wire form of a body that does not decode: a bad lock name, a bad argument, or bad JSON.
    public init(_ error: DecodingError) {
        let (context, isMissing): (DecodingError.Context?, Bool) =
            switch error {
            case .dataCorrupted(let context): (context, false)
            case .keyNotFound(let key, let context): (context.withKey(key), true)
            case .typeMismatch(_, let context), .valueNotFound(_, let context): (context, false)
            @unknown default: (nil, false)
            }
        let field = context?.codingPath.last?.stringValue ?? ""
        let detail = isMissing ? "\(field) is required" : "\(field): \(context?.debugDescription ?? "invalid value")"
        switch field {
        case "name" where !isMissing:
            self.init(.badRequest, LockAPIErrorCode.invalidLockName, detail)
        case "":
            self.init(
                .badRequest,
                LockAPIErrorCode.malformedRequest,
                "the body is not valid JSON: \(context?.debugDescription ?? "")"
            )
        default:
            self.init(
                .badRequest,
                field == "ttl_ms" ? LockAPIErrorCode.invalidTTL : LockAPIErrorCode.invalidArgument,
                detail
            )
        }
    }

    /// The JSON response for this error.
    func response(requestID: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: status,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: body(requestID: requestID)))
        )
    }

    /// The `{code, message, request_id}` JSON body of this error.
    func body(requestID: String) -> Data {
        (try? JSONEncoder().encode(LockAPIErrorBody(code: code, message: message, requestID: requestID))) ?? Data()
    }
}

extension DecodingError.Context {
    fileprivate func withKey(_ key: any CodingKey) -> DecodingError.Context {
        DecodingError.Context(codingPath: codingPath + [key], debugDescription: debugDescription)
    }
}
