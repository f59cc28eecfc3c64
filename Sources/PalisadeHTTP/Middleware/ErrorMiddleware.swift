import Foundation
import HTTPTypes
public import Hummingbird
import LockCore
import Logging
import PalisadeAuth
import PalisadeProtocol
import StorageEngine

/// The outermost middleware: stamps the request id on every response and turns every error
/// into the protocol's own error format, so no failure reaches the client as an empty 500.
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = PalisadeRequestContext

    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Self.apiError(for: error, loggedIn: context).response(requestID: context.requestID)
        }
        response.headers[HTTPField.Name(PalisadeHeaders.requestID)!] = context.requestID
        return response
    }

    /// The answer to `error`, which is logged with the request id when it is an internal error.
    static func apiError(for error: any Error, loggedIn context: PalisadeRequestContext) -> LockAPIError {
        let apiError = apiError(for: error)
        if apiError.status == .internalServerError {
            context.logger.error(
                "request failed",
                metadata: ["error": "\(error)", "request_id": "\(context.requestID)"]
            )
        }
        return apiError
    }

    static func apiError(for error: any Error) -> LockAPIError {
        switch error {
        case let error as LockAPIError: return error
        case let error as LockError: return LockAPIError(error)
        case let error as SigV4Error: return LockAPIError(error)
        case let error as DecodingError: return LockAPIError(error)
        case let error as StorageError where error.code == .insufficientStorage:
            return LockAPIError(.serviceUnavailable, LockAPIErrorCode.storageUnavailable, error.message)
        case let error as StorageError where error.code == .serviceUnavailable:
            return LockAPIError(.serviceUnavailable, LockAPIErrorCode.serviceUnavailable, error.message)
        case let error as StorageError:
            return LockAPIError(.internalServerError, LockAPIErrorCode.internalError, error.message)
        case let error as any HTTPResponseError where error.status == .notFound:
            return LockAPIError(.notFound, LockAPIErrorCode.notFound, "no such endpoint")
        case let error as any HTTPResponseError where error.status == .contentTooLarge:
            return LockAPIError(
                .contentTooLarge,
                LockAPIErrorCode.requestTooLarge,
                "the body is larger than \(LockAPILimits.maximumBodyBytes) bytes"
            )
        case let error as any HTTPResponseError where error.status.code < 500:
            return LockAPIError(error.status, LockAPIErrorCode.malformedRequest, error.status.reasonPhrase)
        default:
            return LockAPIError(.internalServerError, LockAPIErrorCode.internalError, "an unexpected error occurred")
        }
    }
}
