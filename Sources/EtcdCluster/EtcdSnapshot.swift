import EtcdAPI
import Foundation

/// What a transaction has read from etcd so far, all at one revision: single keys and key ranges.
/// It grows when a transaction asks for something it does not hold yet (fetched at the same revision).
struct EtcdSnapshot: Sendable {
    /// A read: one key (`end` empty) or the keys in `[key, end)`, at most `limit` of them (0: all).
    struct Read: Hashable, Sendable {
        var key: Data
        var end = Data()
        var limit: Int64 = 0

        var request: Etcdserverpb_RangeRequest {
            var request = Etcdserverpb_RangeRequest()
            request.key = key
            request.rangeEnd = end
            request.limit = limit
            return request
        }
    }

    /// The revision every read was made at.
    private(set) var revision: Int64
    private var results: [Read: [Mvccpb_KeyValue]] = [:]

    private init(revision: Int64) { self.revision = revision }

    /// Reads `reads` at the latest revision, in one round trip.
    static func fetch(_ reads: [Read], from client: EtcdClient) async throws(EtcdError) -> EtcdSnapshot {
        let response = try await client.read(reads.map(\.request))
        var snapshot = EtcdSnapshot(revision: response.header.revision)
        snapshot.store(reads, response)
        return snapshot
    }

    /// Reads one more thing at this snapshot's revision.
    mutating func fetch(_ read: Read, from client: EtcdClient) async throws(EtcdError) {
        var request = read.request
        request.revision = revision
        store([read], try await client.read([request]))
    }

    private mutating func store(_ reads: [Read], _ response: Etcdserverpb_TxnResponse) {
        for (read, answer) in zip(reads, response.responses) { results[read] = answer.responseRange.kvs }
    }

    /// What `read` returned, or nil when it has not been fetched.
    subscript(read: Read) -> [Mvccpb_KeyValue]? { results[read] }
}
