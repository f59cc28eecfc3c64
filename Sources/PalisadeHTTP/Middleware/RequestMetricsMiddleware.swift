public import Hummingbird
public import Logging
public import Metrics

/// Records each request once it is answered: its latency as a histogram labelled by route (the
/// S3 operation for S3 requests), method and status, and — with an access log — one line with the
/// operation, bucket, key, status, bytes, duration, request id and access key.
public struct RequestMetricsMiddleware: RouterMiddleware {
    public typealias Context = PalisadeRequestContext

    let factory: any MetricsFactory
    let accessLog: Logger?

    public init(factory: any MetricsFactory, accessLog: Logger? = nil) {
        self.factory = factory
        self.accessLog = accessLog
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = start.duration(to: .now)
        let notes = context.notes.current
        let route = context.endpointPath ?? notes.operation ?? "unmatched"
        let nanoseconds = record(route: route, method: request.method, status: response.status, elapsed: elapsed)
        accessLog?.info(
            "request",
            metadata: [
                "operation": "\(notes.operation ?? route)", "method": "\(request.method.rawValue)",
                "bucket": "\(notes.bucket ?? "")", "key": "\(notes.key ?? "")", "status": "\(response.status.code)",
                "bytes_in": "\(request.headers[.contentLength] ?? "-")",
                "bytes_out":
                    "\(response.headers[.contentLength] ?? response.body.contentLength.map(String.init) ?? "-")",
                "duration_ms": "\(Double(nanoseconds / 1000) / 1000)", "request_id": "\(context.requestID)",
                "access_key": "\(notes.accessKeyID ?? "-")",
            ]
        )
        return response
    }

    /// Records one answered call's latency in the histogram (also for the lock session calls
    /// answered without the router).
    /// - Returns: the latency in nanoseconds.
    @discardableResult
    func record(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, elapsed: Duration) -> Int64 {
        let dimensions = [("route", route), ("method", method.rawValue), ("status", String(status.code))]
        let nanoseconds =
            Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        Metrics.Timer(label: "palisade_http_request_duration_seconds", dimensions: dimensions, factory: factory)
            .recordNanoseconds(nanoseconds)
        return nanoseconds
    }
}
