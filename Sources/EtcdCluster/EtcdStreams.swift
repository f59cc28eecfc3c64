import EtcdAPI
import Foundation
import GRPCCore
import Synchronization

/// One long-lived bidirectional etcd stream shared by many callers: requests go out on it in order,
/// answers are handed to whoever waits for them. Opening a stream per call would end each with a
/// reset, and etcd closes a connection whose client resets streams quickly (its guard against
/// HTTP/2 rapid reset), failing every call on it.
///
/// The stream opens on first use and again after it fails; a failure ends every pending caller.
final class SharedStream<Request: Sendable, Response: Sendable>: Sendable {
    /// Runs the stream: writes what `outgoing` yields, hands every answer to `deliver`.
    typealias Open =
        @Sendable (
            _ outgoing: AsyncStream<Request>,
            _ deliver: @escaping @Sendable (Response) -> Void
        ) async throws -> Void

    private struct State {
        var outgoing: AsyncStream<Request>.Continuation?
        var task: Task<Void, Never>?
    }

    private let state = Mutex(State())
    private let open: Open
    private let deliver: @Sendable (Response) -> Void
    private let failed: @Sendable (any Error) -> Void

    /// - Parameters:
    ///   - deliver: called with every answer, in order.
    ///   - failed: called when the stream ends (callers waiting on it must be ended).
    init(
        open: @escaping Open,
        deliver: @escaping @Sendable (Response) -> Void,
        failed: @escaping @Sendable (any Error) -> Void
    ) {
        self.open = open
        self.deliver = deliver
        self.failed = failed
    }

    /// Sends `request` on the stream, opening it first when it is not open.
    func send(_ request: Request) {
        let continuation = state.withLock { state in
            if let outgoing = state.outgoing { return outgoing }
            let (stream, continuation) = AsyncStream.makeStream(of: Request.self)
            state.outgoing = continuation
            state.task = Task { [open, deliver, failed, weak self] in
                let error: any Error
                do {
                    try await open(stream, deliver)
                    error = RPCError(code: .unavailable, message: "the etcd stream ended")
                } catch let ended {
                    error = ended
                }
                self?.state.withLock { state in
                    state.outgoing = nil
                    state.task = nil
                }
                failed(error)
            }
            return continuation
        }
        continuation.yield(request)
    }

    /// Ends the stream.
    func close() {
        let task = state.withLock { state in
            state.outgoing?.finish()
            state.outgoing = nil
            return state.task
        }
        task?.cancel()
    }
}

/// A value behind a lock, shared by reference (a `Mutex` cannot be captured by a closure).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<T>(_ body: (inout sending Value) throws -> sending T) rethrows -> T { try mutex.withLock(body) }
}

extension SharedStream {
    /// Opens a bidirectional call with `call` (a generated client's method), which waits for a
    /// reachable member: its requests are what `outgoing` yields, each answer is delivered.
    static func bidirectional(
        _ call:
            @escaping @Sendable (
                _ options: CallOptions,
                _ producer: @escaping @Sendable (RPCWriter<Request>) async throws -> Void,
                _ handler: @escaping @Sendable (StreamingClientResponse<Response>) async throws -> Void
            ) async throws -> Void
    ) -> Open {
        var options = CallOptions.defaults
        options.waitForReady = true
        return { [options] outgoing, deliver in
            try await call(
                options,
                { writer in for await request in outgoing { try await writer.write(request) } },
                { response in for try await message in response.messages { deliver(message) } }
            )
        }
    }
}

/// The watches of one client, on one shared Watch stream; each watch has its own ids.
final class EtcdWatches: Sendable {
    private struct State {
        var nextID: Int64 = 1
        var watchers: [Int64: AsyncThrowingStream<[Mvccpb_Event], any Error>.Continuation] = [:]
    }

    private let state = Locked(State())
    private let stream: SharedStream<Etcdserverpb_WatchRequest, Etcdserverpb_WatchResponse>

    init(client: Etcdserverpb_Watch.Client<EtcdClient.Transport>) {
        let state = self.state
        stream = SharedStream(
            open: SharedStream<Etcdserverpb_WatchRequest, Etcdserverpb_WatchResponse>.bidirectional {
                (options, producer, handler) async throws -> Void in
                try await client.watch(options: options, requestProducer: producer, onResponse: handler)
            },
            deliver: { message in
                let watcher = state.withLock { $0.watchers[message.watchID] }
                if message.canceled {
                    watcher?.finish(throwing: EtcdError(message: "watch cancelled: \(message.cancelReason)"))
                } else if !message.events.isEmpty {
                    watcher?.yield(message.events)
                }
            },
            failed: { error in
                let watchers = state.withLock { state in
                    defer { state.watchers = [:] }
                    return state.watchers.values
                }
                // A watch of several ranges appears once per range: finishing twice does nothing.
                for watcher in watchers { watcher.finish(throwing: error) }
            }
        )
    }

    /// The changes to `ranges` from `revision` on, until the caller stops iterating.
    func changes(
        of ranges: [(key: Data, end: Data)],
        from revision: Int64
    ) -> AsyncThrowingStream<
        [Mvccpb_Event], any Error
    > {
        let (changes, continuation) = AsyncThrowingStream.makeStream(of: [Mvccpb_Event].self)
        let ids = state.withLock { state in
            let ids = ranges.indices.map { state.nextID + Int64($0) }
            state.nextID += Int64(ranges.count)
            for id in ids { state.watchers[id] = continuation }
            return ids
        }
        for (id, range) in zip(ids, ranges) {
            var create = Etcdserverpb_WatchCreateRequest()
            create.key = range.key
            create.rangeEnd = range.end
            create.startRevision = revision
            create.prevKv = true
            create.watchID = id
            var request = Etcdserverpb_WatchRequest()
            request.createRequest = create
            stream.send(request)
        }
        continuation.onTermination = { [state, stream] _ in
            state.withLock { state in for id in ids { state.watchers[id] = nil } }
            for id in ids {
                var cancel = Etcdserverpb_WatchCancelRequest()
                cancel.watchID = id
                var request = Etcdserverpb_WatchRequest()
                request.cancelRequest = cancel
                stream.send(request)
            }
        }
        return changes
    }

    func close() { stream.close() }
}

/// The keep-alives of one client, on one shared LeaseKeepAlive stream; etcd answers each in order.
final class EtcdKeepAlives: Sendable {
    private let waiting = Locked<[Int64: [CheckedContinuation<Int64?, any Error>]]>([:])
    private let stream: SharedStream<Etcdserverpb_LeaseKeepAliveRequest, Etcdserverpb_LeaseKeepAliveResponse>

    init(client: Etcdserverpb_Lease.Client<EtcdClient.Transport>) {
        let waiting = self.waiting
        stream = SharedStream(
            open: SharedStream<Etcdserverpb_LeaseKeepAliveRequest, Etcdserverpb_LeaseKeepAliveResponse>.bidirectional {
                (options, producer, handler) async throws -> Void in
                try await client.leaseKeepAlive(options: options, requestProducer: producer, onResponse: handler)
            },
            deliver: { message in
                let next = waiting.withLock { waiting -> CheckedContinuation<Int64?, any Error>? in
                    guard var queue = waiting[message.id], !queue.isEmpty else { return nil }
                    let first = queue.removeFirst()
                    waiting[message.id] = queue.isEmpty ? nil : queue
                    return first
                }
                next?.resume(returning: message.ttl > 0 ? message.ttl : nil)
            },
            failed: { error in
                let all = waiting.withLock { waiting in
                    defer { waiting = [:] }
                    return waiting.values.flatMap { $0 }
                }
                for continuation in all { continuation.resume(throwing: error) }
            }
        )
    }

    /// Renews lease `id`. - Returns: its TTL in seconds, or nil when it is gone.
    func keepAlive(_ id: Int64) async throws -> Int64? {
        try await withCheckedThrowingContinuation { continuation in
            waiting.withLock { $0[id, default: []].append(continuation) }
            var request = Etcdserverpb_LeaseKeepAliveRequest()
            request.id = id
            stream.send(request)
        }
    }

    func close() { stream.close() }
}
