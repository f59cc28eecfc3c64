import NIOCore
import PalisadeIDs
import PalisadeProtocol

/// A 400 answer that a connection handler writes itself (a request the parser rejected, a body
/// that stopped arriving), in the protocol of the request's target: the lock API's JSON under
/// `/_palisade/`, else S3 XML (also when the target is unknown). The connection is closed after it.
struct ConnectionErrorAnswer {
    let contentType: String
    let requestID: String
    let body: ByteBuffer

    /// The answer for `target` with the lock API's `lockCode` or S3's `s3Code`.
    init(target: String?, lockCode: String, s3Code: String, message: String) {
        requestID = RequestID.next()
        if let target, PalisadePaths.isReserved(target) {
            contentType = "application/json"
            body = ByteBuffer(bytes: LockAPIError(.badRequest, lockCode, message).body(requestID: requestID))
        } else {
            contentType = "application/xml"
            body = ByteBuffer(
                string: S3Error(.badRequest, s3Code, message).document(resource: "", requestID: requestID)
            )
        }
    }
}
