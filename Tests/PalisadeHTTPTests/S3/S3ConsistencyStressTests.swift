import Crypto
import Foundation
import PalisadeTestSupport
import Synchronization
import Testing

/// What the writers did: every body they tried to write, and each committed operation by sequence.
final class WriteHistory: Sendable {
    enum Operation: Sendable {
        case put(md5: String)
        case delete
    }

    private struct State {
        var attempted: Set<String> = []
        var committed: [String: [(sequence: UInt64, operation: Operation)]] = [:]
    }

    private let state = Mutex(State())

    func attempt(_ md5: String) { state.withLock { _ = $0.attempted.insert(md5) } }
    func wasAttempted(_ md5: String) -> Bool { state.withLock { $0.attempted.contains(md5) } }
    func commit(_ key: String, sequence: UInt64, _ operation: Operation) {
        state.withLock { $0.committed[key, default: []].append((sequence, operation)) }
    }

    /// The operation with the highest commit sequence on `key`.
    func last(_ key: String) -> Operation? {
        state.withLock { $0.committed[key]?.max { $0.sequence < $1.sequence }?.operation }
    }
}

func md5Hex(_ bytes: some Sequence<UInt8>) -> String {
    Insecure.MD5.hash(data: Array(bytes)).map { String(format: "%02x", $0) }.joined()
}

@Suite("S3 gateway under concurrent writers and readers")
struct S3ConsistencyStressTests {
    @Test("every GET returns a whole written version; after the writers stop every reader sees the last commit")
    func randomizedHistory() async throws {
        try await withTestServer { server in
            try await makeBucket(server)
            let keys = ["k0", "k1", "k2"]
            let history = WriteHistory()
            let s3 = server.s3
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        var random = SystemRandomNumberGenerator()
                        for step in 0..<40 {
                            let key = keys.randomElement(using: &random)!
                            if Int.random(in: 0..<5, using: &random) == 0 {
                                let answer = try await s3.send("DELETE", "/bucket/\(key)")
                                try #require(answer.status == 204)
                                if let sequence = answer.header("x-palisade-commit-sequence").flatMap(UInt64.init) {
                                    history.commit(key, sequence: sequence, .delete)
                                }
                            } else {
                                let size = Int.random(in: 1...65_536, using: &random)
                                let body =
                                    Array("writer \(writer) step \(step) ".utf8)
                                    + (0..<size).map { UInt8(truncatingIfNeeded: $0 &* (writer + 3)) }
                                let md5 = md5Hex(body)
                                history.attempt(md5)
                                let answer = try await s3.send("PUT", "/bucket/\(key)", body: body)
                                try #require(answer.status == 200)
                                try #require(answer.header("etag") == "\"\(md5)\"")
                                let sequence = try #require(
                                    answer.header("x-palisade-commit-sequence").flatMap(UInt64.init)
                                )
                                history.commit(key, sequence: sequence, .put(md5: md5))
                            }
                        }
                    }
                }
                for _ in 0..<4 {
                    group.addTask {
                        for _ in 0..<60 {
                            let answer = try await s3.send("GET", "/bucket/\(keys.randomElement()!)")
                            if answer.status == 404 { continue }
                            try #require(answer.status == 200)
                            let md5 = md5Hex(answer.body.readableBytesView)
                            // A whole version: its bytes hash to its ETag, and some writer wrote exactly them.
                            #expect(answer.header("etag") == "\"\(md5)\"")
                            #expect(history.wasAttempted(md5))
                        }
                    }
                }
                try await group.waitForAll()
            }
            for key in keys {
                for _ in 0..<3 {
                    let answer = try await s3.send("GET", "/bucket/\(key)")
                    switch history.last(key) {
                    case .put(let md5):
                        #expect(answer.status == 200 && md5Hex(answer.body.readableBytesView) == md5)
                    case .delete, nil:
                        #expect(answer.status == 404)
                    }
                }
            }
        }
    }
}
