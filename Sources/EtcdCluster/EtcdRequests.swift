import EtcdAPI
import Foundation

/// The pieces of etcd requests cluster mode builds: reads, puts, deletes and compares.
enum EtcdRequests {
    static func single(_ key: Data) -> Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = key
        return request
    }

    static func prefix(_ key: Data) -> Etcdserverpb_RangeRequest {
        var request = single(key)
        request.rangeEnd = EtcdKeyLayout.rangeEnd(of: key)
        return request
    }

    static func count(_ key: Data) -> Etcdserverpb_RangeRequest {
        var request = prefix(key)
        request.countOnly = true
        return request
    }

    static func revisioned(_ request: Etcdserverpb_RangeRequest, _ revision: Int64) -> Etcdserverpb_RangeRequest {
        var request = request
        request.revision = revision
        return request
    }

    static func put(_ key: Data, _ value: Data, lease: Int64 = 0) -> Etcdserverpb_RequestOp {
        var put = Etcdserverpb_PutRequest()
        put.key = key
        put.value = value
        put.lease = lease
        var operation = Etcdserverpb_RequestOp()
        operation.requestPut = put
        return operation
    }

    static func delete(_ key: Data) -> Etcdserverpb_RequestOp {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = key
        var operation = Etcdserverpb_RequestOp()
        operation.requestDeleteRange = delete
        return operation
    }

    static func exists(_ key: Data) -> Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = key
        compare.target = .version
        compare.result = .greater
        compare.version = 0
        return compare
    }

    static func unchanged(_ key: Data, modRevision: Int64) -> Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = key
        compare.target = .mod
        compare.result = .equal
        compare.modRevision = modRevision
        return compare
    }

    /// No key under `prefix` was created or changed after `revision`.
    static func notChangedSince(_ revision: Int64, prefix: Data) -> Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = prefix
        compare.rangeEnd = EtcdKeyLayout.rangeEnd(of: prefix)
        compare.target = .mod
        compare.result = .less
        compare.modRevision = revision + 1
        return compare
    }
}
