import AsyncHTTPClient
import Foundation
import NIOCore
import PalisadeClient

/// etcd's v3 lock service through its JSON gateway (`/v3/lease/grant`, `/v3/lock/lock`,
/// `/v3/lock/unlock`): one lease per client, as `etcdctl lock` and the `concurrency` package use it.
/// The fencing token is the revision at which the lock was granted, which grows with every holder.
struct EtcdLockTarget: LockBenchTarget {
    /// The base URL of an etcd client endpoint, such as `http://127.0.0.1:2379`.
    let endpoint: String
    let httpClient: HTTPClient
    var name: String { "etcd" }
    var issuesFencingTokens: Bool { true }

    private struct LeaseGrant: Decodable { var ID: String }
    private struct Header: Decodable { var revision: String }
    private struct Locked: Decodable {
        var header: Header
        var key: String
    }
    private struct Empty: Decodable {}

    func withSession<Result: Sendable>(_ body: (String) async throws -> Result) async throws -> Result {
        let lease = try await post("/v3/lease/grant", ["TTL": "30"], as: LeaseGrant.self).ID
        do {
            let result = try await body(lease)
            _ = try? await post("/v3/lease/revoke", ["ID": lease], as: Empty.self)
            return result
        } catch {
            _ = try? await post("/v3/lease/revoke", ["ID": lease], as: Empty.self)
            throw error
        }
    }

    func acquire(_ lock: String, in lease: String) async throws -> (holding: String, token: UInt64?) {
        let name = Data(lock.utf8).base64EncodedString()
        let locked = try await post("/v3/lock/lock", ["name": name, "lease": lease], as: Locked.self)
        return (locked.key, UInt64(locked.header.revision))
    }

    func release(_ lock: String, _ key: String, in lease: String) async throws {
        _ = try await post("/v3/lock/unlock", ["key": key], as: Empty.self)
    }

    func keepAlive(_ lease: String) async throws {
        _ = try await post("/v3/lease/keepalive", ["ID": lease], as: Empty.self)
    }

    private func post<Response: Decodable>(
        _ path: String,
        _ body: [String: String],
        as: Response.Type
    ) async throws -> Response {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await httpClient.execute(request, timeout: .seconds(60))
        let answer = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw BenchError("etcd \(path): HTTP \(response.status.code) \(String(buffer: answer))")
        }
        return try JSONDecoder().decode(Response.self, from: Data(answer.readableBytesView))
    }
}
