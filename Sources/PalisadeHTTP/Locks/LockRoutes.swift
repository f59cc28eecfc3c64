import Foundation
public import Hummingbird
import LockCore
import LockEngine
import PalisadeProtocol

/// The lock API routes (`Protocol/lock-api.md`): JSON in, JSON out, no rules of their own; each
/// call is first checked against the caller's policy (``LockAuthorizer``).
public struct LockRoutes: Sendable {
    let locks: any LockBackend
    let authorizer: LockAuthorizer

    /// Routes that serve `locks` to the keys of `authorizer`, as their policies allow.
    init(locks: any LockBackend, authorizer: LockAuthorizer) {
        self.locks = locks
        self.authorizer = authorizer
    }

    /// Adds the routes under `group`, which is mounted at `/_palisade/v1`.
    public func register(on group: RouterGroup<PalisadeRequestContext>) {
        group.post("leases") { request, context in
            try authorizer.require(.service(Permission.Lock.grantLease), for: context)
            let body = try await decode(GrantLeaseRequest.self, from: request)
            return try json(
                Self.leaseResponse(
                    try await locks.grantLease(ttl: .milliseconds(body.ttlMilliseconds), owner: context.accessKeyID)
                ),
                status: .created
            )
        }
        group.get("leases/:id") { _, context in
            let id = try leaseID(context)
            try await authorizer.requireOwnership(of: id, for: context)
            guard let lease = await locks.lease(id) else {
                throw LockError(.leaseNotFound, "lease \(id) does not exist")
            }
            return try json(Self.leaseResponse(lease))
        }
        group.post("leases/:id/keepalive") { _, context in
            let id = try leaseID(context)
            try await authorizer.requireOwnership(of: id, for: context)
            return try json(Self.leaseResponse(try await locks.keepAlive(id)))
        }
        group.delete("leases/:id") { _, context in
            let id = try leaseID(context)
            try await authorizer.requireOwnership(of: id, for: context)
            let released = try await locks.revokeLease(id)
            return try json(RevokeLeaseResponse(leaseID: id, released: released.map(Self.heldLock)))
        }
        group.post("leases/:id/watch") { request, context in
            let id = try leaseID(context)
            try await authorizer.requireOwnership(of: id, for: context)
            let body = try await decode(WatchRequest.self, from: request)
            return try json(
                Self.watchResponse(try await locks.watchLease(id, wait: .milliseconds(body.waitMilliseconds)))
            )
        }
        group.post("locks/acquire") { request, context in
            try json(try await acquire(try await decode(AcquireRequest.self, from: request), for: context))
        }
        group.post("locks/release") { request, context in
            try json(try await release(try await decode(ReleaseRequest.self, from: request), for: context))
        }
        group.get("locks") { request, context in
            guard let text = request.uri.queryParameters.get("name") else {
                throw LockAPIError(
                    .badRequest,
                    LockAPIErrorCode.invalidLockName,
                    "the query parameter name is required"
                )
            }
            guard let name = LockName(rawValue: text) else {
                throw LockAPIError(
                    .badRequest,
                    LockAPIErrorCode.invalidLockName,
                    LockName.validationFailure(text) ?? "invalid lock name"
                )
            }
            try authorizer.require(.lock(Permission.Lock.read, name), for: context)
            let status = await locks.status(of: name)
            return try json(
                LockStatusResponse(
                    name: name,
                    holders: status.holders.map(Self.holder),
                    waiters: status.waiters.map { .init(leaseID: $0.lease, mode: $0.mode, position: $0.position) },
                    lockDelayRemainingMilliseconds: status.lockDelayRemaining.wholeMilliseconds
                )
            )
        }
        group.post("locks/validate") { request, context in
            let body = try await decode(ValidateRequest.self, from: request)
            try authorizer.require(.lock(Permission.Lock.read, body.name), for: context)
            let holder = await locks.validate(body.name, token: body.token)
            return try json(
                ValidateResponse(
                    name: body.name,
                    token: body.token,
                    valid: holder != nil,
                    leaseRemainingMilliseconds: holder?.leaseRemaining.wholeMilliseconds
                )
            )
        }
        group.post("locks/watch") { request, context in
            let body = try await decode(WatchRequest.self, from: request)
            guard let name = body.name, let token = body.token else {
                throw LockAPIError(.badRequest, LockAPIErrorCode.invalidArgument, "a lock watch needs name and token")
            }
            try authorizer.require(.lock(Permission.Lock.read, name), for: context)
            return try json(
                Self.watchResponse(
                    try await locks.watchGrant(name, token: token, wait: .milliseconds(body.waitMilliseconds))
                )
            )
        }
        group.post("admin/locks/force-release") { request, context in
            let body = try await decode(ForceReleaseRequest.self, from: request)
            try authorizer.require(.lock(Permission.Lock.forceRelease, body.name), for: context)
            let released = try await locks.forceRelease(body.name)
            return try json(ForceReleaseResponse(name: body.name, released: released.map(Self.holder)))
        }
    }

    /// `POST locks/acquire`, after its body is read: served by the route and, for a lock session,
    /// directly (``LockSessionRoutes``).
    func acquire(_ body: AcquireRequest, for context: PalisadeRequestContext) async throws -> GrantResponse {
        try authorizer.require(.lock(Permission.Lock.acquire, body.name), for: context)
        try await authorizer.requireOwnership(of: body.leaseID, for: context)
        let grant = try await locks.acquire(
            body.name,
            lease: body.leaseID,
            mode: body.mode ?? .exclusive,
            wait: .milliseconds(body.waitMilliseconds ?? 0)
        )
        return Self.grantResponse(grant)
    }

    /// `POST locks/release`, after its body is read: served by the route and, for a lock session,
    /// directly (``LockSessionRoutes``).
    func release(_ body: ReleaseRequest, for context: PalisadeRequestContext) async throws -> ReleaseResponse {
        try authorizer.require(.lock(Permission.Lock.acquire, body.name), for: context)
        try await authorizer.requireOwnership(of: body.leaseID, for: context)
        let outcome: ReleaseResponse.Outcome =
            switch try await locks.release(body.name, lease: body.leaseID, token: body.token) {
            case .released: .released
            case .alreadyReleased: .alreadyReleased
            case .waitCancelled: .waitCancelled
            }
        return ReleaseResponse(name: body.name, outcome: outcome)
    }

    static func leaseResponse(_ lease: LeaseSnapshot) -> LeaseResponse {
        LeaseResponse(
            leaseID: lease.id,
            ttlMilliseconds: lease.ttl.wholeMilliseconds,
            remainingMilliseconds: lease.remaining.wholeMilliseconds,
            locks: lease.grants.map(heldLock)
        )
    }

    static func heldLock(_ grant: Grant) -> HeldLock {
        HeldLock(name: grant.name, token: grant.token, mode: grant.mode)
    }

    static func grantResponse(_ snapshot: GrantSnapshot) -> GrantResponse {
        GrantResponse(
            name: snapshot.grant.name,
            leaseID: snapshot.grant.lease,
            token: snapshot.grant.token,
            mode: snapshot.grant.mode,
            leaseRemainingMilliseconds: snapshot.leaseRemaining.wholeMilliseconds
        )
    }

    static func holder(_ snapshot: GrantSnapshot) -> LockStatusResponse.Holder {
        LockStatusResponse.Holder(
            leaseID: snapshot.grant.lease,
            token: snapshot.grant.token,
            mode: snapshot.grant.mode,
            leaseRemainingMilliseconds: snapshot.leaseRemaining.wholeMilliseconds
        )
    }

    static func watchResponse(_ result: WatchResult) -> WatchResponse {
        switch result {
        case .held(let remaining):
            return WatchResponse(held: true, reason: nil, leaseRemainingMilliseconds: remaining.wholeMilliseconds)
        case .lost(let reason):
            let lossReason: WatchResponse.LossReason =
                switch reason {
                case .released: .released
                case .leaseRevoked: .revoked
                case .leaseExpired: .expired
                case .forceReleased: .forceReleased
                case nil: .unknown
                }
            return WatchResponse(held: false, reason: lossReason, leaseRemainingMilliseconds: nil)
        }
    }
}

private func leaseID(_ context: PalisadeRequestContext) throws -> LeaseID {
    let text = context.parameters.get("id") ?? ""
    guard let id = LeaseID(rawValue: text) else {
        throw LockAPIError(
            .badRequest,
            LockAPIErrorCode.invalidArgument,
            "a lease id is 32 lowercase hex digits, not '\(text)'"
        )
    }
    return id
}

/// A message of the lock session's hot path: read without `JSONDecoder` when it is exactly a valid
/// one, else by `JSONDecoder`, whose error the client gets.
private func decode<T: FlatJSONDecodable>(_ type: T.Type, from request: Request) async throws -> T {
    let buffer = try await request.body.collect(upTo: LockAPILimits.maximumBodyBytes)
    let fast = buffer.withUnsafeReadableBytes { T(json: $0.assumingMemoryBound(to: UInt8.self)) }
    return try fast ?? decoded(T.self, from: buffer)
}

private func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
    try decoded(T.self, from: try await request.body.collect(upTo: LockAPILimits.maximumBodyBytes))
}

private func decoded<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
    guard buffer.readableBytes > 0 else {
        throw LockAPIError(.badRequest, LockAPIErrorCode.malformedRequest, "the request needs a JSON body")
    }
    let data = Data(buffer.readableBytesView)
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
        throw LockAPIError(error, body: data)
    }
}

private func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    return json(body: ByteBuffer(bytes: try encoder.encode(value)), status: status)
}

private func json(_ value: some FlatJSONEncodable, status: HTTPResponse.Status = .ok) throws -> Response {
    json(body: ByteBuffer(string: value.flatJSON), status: status)
}

private func json(body: ByteBuffer, status: HTTPResponse.Status) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: body))
}
