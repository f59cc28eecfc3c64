import AsyncHTTPClient
import NIOCore
import PalisadeClient
import PalisadeProtocol

/// An object store that ``GatewayBench`` can load: Palisade's S3 gateway (fenced or not), or nginx
/// serving files with WebDAV `PUT`, the ceiling for plain HTTP file serving on the same machine.
protocol ObjectBenchTarget: Sendable {
    /// What one client writes with: nothing, or the lock grant its fenced writes carry.
    associatedtype Writer: Sendable

    /// A short name for tables (`palisade`, `palisade-fenced`, `nginx`).
    var name: String { get }

    /// Creates what the run writes into (a bucket).
    func prepare() async throws

    /// Sets up the writer of `key` (one client's object), runs `body` with it, and tears it down
    /// whatever happens.
    func withWriter<Result: Sendable>(
        of key: String,
        _ body: @escaping @Sendable (Writer) async throws -> Result
    ) async throws -> Result

    func put(_ key: String, _ body: ByteBuffer, by writer: Writer) async throws

    /// Reads `key` whole and returns its size, without keeping the bytes.
    func get(_ key: String, by writer: Writer) async throws -> Int64
}

/// Palisade's S3 gateway through ``ObjectClient``: each client has one of its own, whose first
/// gateway is the next of `--endpoint`'s. Fenced, each client holds the lock of its object
/// (`bucket/key`) under a kept-alive lease, and every PUT carries its token, checked at the
/// commit point.
struct PalisadeObjectTarget: ObjectBenchTarget {
    /// One client's: its object client, and its grant when fenced.
    struct Writer: Sendable {
        let client: ObjectClient
        let grant: LockGrant?
    }

    let client: ObjectClient
    let gateways: RoundRobin
    let fenced: Bool
    let bucket = "palisade-bench"

    var name: String { fenced ? "palisade-fenced" : "palisade" }

    func prepare() async throws {
        try await client.createBucket(bucket)
    }

    init(client: ObjectClient, gateways: RoundRobin, fenced: Bool) {
        self.client = client
        self.gateways = gateways
        self.fenced = fenced
    }

    func withWriter<Result: Sendable>(
        of key: String,
        _ body: @escaping @Sendable (Writer) async throws -> Result
    ) async throws -> Result {
        let client = ObjectClient(
            endpoints: gateways.next(),
            credentials: client.credentials,
            payloadSigning: client.payloadSigning
        )
        guard fenced else { return try await body(Writer(client: client, grant: nil)) }
        guard let lock = LockName(rawValue: "\(bucket)/\(key)") else { throw BenchError("bad lock name") }
        return try await client.locks.withLease(ttl: .seconds(10)) { session in
            let grant = try await session.acquire(lock, wait: .seconds(30))
            return try await body(Writer(client: client, grant: grant))
        }
    }

    func put(_ key: String, _ body: ByteBuffer, by writer: Writer) async throws {
        if let grant = writer.grant {
            _ = try await writer.client.put(bucket: bucket, key: key, body: body, fencedBy: grant)
        } else {
            _ = try await writer.client.put(bucket: bucket, key: key, body: body)
        }
    }

    func get(_ key: String, by writer: Writer) async throws -> Int64 {
        try await writer.client.getDiscarding(bucket: bucket, key: key)
    }
}

/// The writer of a store whose writes carry nothing of their own.
struct PlainWriter: Sendable {}

/// nginx with `dav_methods PUT` and `create_full_put_path on` (see `Benchmarks/peers/`): plain
/// HTTP PUT and GET of files, no authentication, no metadata.
struct NginxObjectTarget: ObjectBenchTarget {
    /// The base URL, such as `http://127.0.0.1:8081`.
    let endpoint: String
    let httpClient: HTTPClient

    var name: String { "nginx" }

    func prepare() async throws {}

    func withWriter<Result: Sendable>(
        of key: String,
        _ body: @escaping @Sendable (PlainWriter) async throws -> Result
    ) async throws -> Result {
        try await body(PlainWriter())
    }

    func put(_ key: String, _ body: ByteBuffer, by writer: PlainWriter) async throws {
        var request = HTTPClientRequest(url: endpoint + "/palisade-bench/" + key)
        request.method = .PUT
        request.body = .bytes(body)
        let response = try await httpClient.execute(request, timeout: .minutes(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(response.status.code) else {
            throw BenchError("nginx PUT \(key): HTTP \(response.status.code)")
        }
    }

    func get(_ key: String, by writer: PlainWriter) async throws -> Int64 {
        let response = try await httpClient.execute(
            HTTPClientRequest(url: endpoint + "/palisade-bench/" + key),
            timeout: .minutes(10)
        )
        var count: Int64 = 0
        for try await chunk in response.body { count += Int64(chunk.readableBytes) }
        guard response.status == .ok else { throw BenchError("nginx GET \(key): HTTP \(response.status.code)") }
        return count
    }
}
