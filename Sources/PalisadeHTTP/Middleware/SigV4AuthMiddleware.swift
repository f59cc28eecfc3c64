import Foundation
public import Hummingbird
public import PalisadeAuth
import PalisadeProtocol

/// Authenticates lock API requests with AWS Signature V4 (the server's access key and secret).
///
/// It reads the whole body (at most ``LockAPILimits/maximumBodyBytes``) so the payload hash can be
/// checked, then hands the collected body on.
public struct SigV4AuthMiddleware: RouterMiddleware {
    public typealias Context = PalisadeRequestContext

    let verifier: SigV4Verifier

    public init(verifier: SigV4Verifier) { self.verifier = verifier }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: LockAPILimits.maximumBodyBytes)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            // The connection ended inside the body: the client's mistake, not the server's.
            throw LockAPIError(
                .badRequest,
                LockAPIErrorCode.malformedRequest,
                "the body ended before the Content-Length it announced"
            )
        }
        let rawPath = request.head.path ?? "/"
        let (path, query) = rawPath.splitQuery()
        let verified = try verifier.verify(
            method: request.method.rawValue,
            path: path,
            query: query,
            headers: request.head.signableHeaders,
            bodyHash: SigV4.hexSHA256(body.readableBytesView),
            now: Date()
        )
        var context = context
        context.accessKeyID = verified.accessKeyID
        context.notes.update { $0.accessKeyID = verified.accessKeyID }
        return try await next(request, context)
    }
}

extension String {
    /// The path and the raw query (without `?`) of a request target.
    func splitQuery() -> (path: String, query: String) {
        guard let mark = firstIndex(of: "?") else { return (self, "") }
        return (String(self[..<mark]), String(self[index(after: mark)...]))
    }
}

extension HTTPRequest {
    /// The headers as a signer saw them, with `host` restored from the authority.
    var signableHeaders: [(name: String, value: String)] {
        var headers = headerFields.map { (name: $0.name.canonicalName, value: $0.value) }
        if let authority, !headers.contains(where: { $0.name == "host" }) { headers.append(("host", authority)) }
        return headers
    }
}
