import Foundation
import NIOCore
import NIOHTTP1
import PalisadeAuth
import PalisadeProtocol

/// Lets a connection's first request reach the WebSocket upgrade layer as an upgrade only when it
/// asks for a lock session with a valid signature.
///
/// The upgrade layer answers every upgrade it refuses with an empty `400`. Any other upgrade
/// request is passed on without its `Upgrade` header, so that it is answered as the plain HTTP
/// request it also is: a session request with a bad signature gets the lock API's JSON error
/// (`SignatureDoesNotMatch`, `RequestTimeTooSkewed`, …), an upgrade elsewhere is an ordinary S3 or
/// lock API call.
///
/// Only the first request of a connection can upgrade: the gate steps aside when it lets an
/// upgrade through. Otherwise it stays, and on later requests keeps only an authentic session
/// request's `Upgrade` (which Hummingbird answers `307` to its own URL, so the client opens a
/// new connection for it); any other request is served as if it had no `Upgrade` header.
final class SessionUpgradeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let verifier: SigV4Verifier

    init(verifier: SigV4Verifier) { self.verifier = verifier }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), head.headers.contains(name: "upgrade") else {
            context.fireChannelRead(data)
            return
        }
        let upgrades = opensAuthenticSession(head)
        if !upgrades { head.headers.remove(name: "upgrade") }
        context.fireChannelRead(wrapInboundOut(.head(head)))
        if upgrades { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    /// Whether `head` asks for the session endpoint and is signed by a known key.
    private func opensAuthenticSession(_ head: HTTPRequestHead) -> Bool {
        let (path, query) = head.uri.splitQuery()
        guard path == PalisadePaths.v1 + PalisadePaths.session else { return false }
        do {
            _ = try verifier.verify(
                method: head.method.rawValue,
                path: path,
                query: query,
                headers: head.headers.map { (name: $0.name.lowercased(), value: $0.value) },
                bodyHash: SigV4.emptyPayloadHash,
                now: Date()
            )
            return true
        } catch {
            return false
        }
    }
}
