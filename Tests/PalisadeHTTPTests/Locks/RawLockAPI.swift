import AsyncHTTPClient
import Foundation
import NIOCore
import PalisadeAuth
import PalisadeTestSupport

/// Raw HTTP to a test server: signed (or deliberately badly signed) requests, JSON answers.
struct RawLockAPI {
    struct Answer {
        var status: Int
        var headers: [(String, String)]
        var json: [String: Any]

        var code: String? { json["code"] as? String }
        subscript(key: String) -> Any? { json[key] }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
    }

    /// `http://127.0.0.1:PORT`.
    let endpoint: String
    /// The keys requests are signed with unless a call names others.
    let credentials: SigV4Credentials

    init(server: TestServer<some Clock>) {
        self.init(endpoint: server.endpoint, credentials: server.credentials)
    }

    init(endpoint: String, credentials: SigV4Credentials) {
        self.endpoint = endpoint
        self.credentials = credentials
    }

    /// Sends `method path` with a JSON (or raw) body, signed with `credentials` unless `signed` is
    /// false, over the body's hash unless `payloadHash` says otherwise.
    func send(
        _ method: String,
        _ path: String,
        query: String = "",
        json: [String: Any]? = nil,
        raw: String? = nil,
        signed: Bool = true,
        credentials: SigV4Credentials? = nil,
        date: Date = Date(),
        payloadHash: String? = nil,
        addedAfterSigning: [(name: String, value: String)] = []
    ) async throws -> Answer {
        let body =
            try raw.map { Data($0.utf8) } ?? json.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        var request = HTTPClientRequest(url: endpoint + path + (query.isEmpty ? "" : "?" + query))
        request.method = .init(rawValue: method)
        var headers: [(name: String, value: String)] = [("host", String(endpoint.dropFirst("http://".count)))]
        if !body.isEmpty { headers.append(("content-type", "application/json")) }
        if signed {
            headers += SigV4Signer(credentials: credentials ?? self.credentials).signatureHeaders(
                method: method,
                path: path,
                query: query,
                headers: headers,
                payloadHash: payloadHash ?? SigV4.hexSHA256(body),
                date: date
            )
        }
        for header in headers + addedAfterSigning { request.headers.add(name: header.name, value: header.value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return Answer(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            json: object
        )
    }

    /// GETs `path` unsigned and returns the status and the body as text.
    func text(_ path: String) async throws -> (status: Int, body: String) {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: endpoint + path),
            timeout: .seconds(10)
        )
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), String(buffer: bytes))
    }

    /// Grants a lease and returns its id.
    func lease(ttlMilliseconds: Int = 10_000) async throws -> String {
        try await send("POST", "/_palisade/v1/leases", json: ["ttl_ms": ttlMilliseconds])["lease_id"] as! String
    }

    /// Acquires `name` for `lease`.
    func acquire(
        _ name: String,
        lease: String,
        mode: String = "exclusive",
        waitMilliseconds: Int = 0
    ) async throws -> Answer {
        try await send(
            "POST",
            "/_palisade/v1/locks/acquire",
            json: ["name": name, "lease_id": lease, "mode": mode, "wait_ms": waitMilliseconds]
        )
    }
}
