import Foundation
import LockEngine
import Metrics
import PalisadeAuth
import PalisadeHTTP
import PalisadeProtocol
import PalisadeTestSupport
import Prometheus
import StorageEngine
import Testing

/// The repository's `Protocol/` folder, found from this file's path.
let protocolFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Protocol")

@Suite("Protocol/ documents are in step with the server")
struct ProtocolDocumentTests {
    /// `METHOD /path` for every operation in `openapi.yaml`, written as the router describes its routes.
    func documentedOperations() throws -> Set<String> {
        let text = try String(contentsOf: protocolFolder.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        var operations = Set<String>()
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if !line.hasPrefix(" "), !line.isEmpty {
                path = nil
            } else if let path, let method = ["get", "post", "put", "delete"].first(where: { line == "    \($0):" }) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test("openapi.yaml lists exactly the routes the server serves")
    func routesMatchOpenAPI() throws {
        let service = try LockService(clock: ContinuousClock(), persistence: nil)
        let registry = PrometheusCollectorRegistry()
        let router = buildRouter(
            locks: service,
            store: try ObjectStore(directory: try makeTemporaryDirectory()),
            verifier: SigV4Verifier(credentials: [testCredentials]),
            registry: registry,
            metricsFactory: PrometheusMetricsFactory(registry: registry)
        )
        let served = Set(router.routes.map { "\($0.method) \($0.path)" })
        let documented = try documentedOperations()
        #expect(
            served == documented,
            "served only: \(served.subtracting(documented).sorted()), documented only: \(documented.subtracting(served).sorted())"
        )
    }

    @Test("every error code the server can send is documented in lock-api.md and openapi.yaml")
    func errorCodesDocumented() throws {
        let guide = try String(contentsOf: protocolFolder.appendingPathComponent("lock-api.md"), encoding: .utf8)
        let spec = try String(contentsOf: protocolFolder.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        // Presigned URLs (and so their two codes) are for the S3 gateway only.
        let presignedOnly: Set<SigV4Error.Code> = [.authorizationQueryParametersError, .expiredRequest]
        let authenticationCodes = SigV4Error.Code.allCases.filter { !presignedOnly.contains($0) }.map(\.rawValue)
        for code in LockAPIErrorCode.all + authenticationCodes {
            #expect(guide.contains("`\(code)`"), "lock-api.md does not document \(code)")
            #expect(spec.contains("- \(code)\n"), "openapi.yaml does not list \(code)")
        }
    }
}
