public import Hummingbird
public import Metrics

/// Records each request's latency as a histogram labelled by route, method and status.
public struct RequestMetricsMiddleware: RouterMiddleware {
    public typealias Context = PalisadeRequestContext

    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) { self.factory = factory }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = start.duration(to: .now)
        let dimensions = [
            ("route", context.endpointPath ?? "unmatched"), ("method", request.method.rawValue),
            ("status", String(response.status.code)),
        ]
        Metrics.Timer(label: "palisade_http_request_duration_seconds", dimensions: dimensions, factory: factory)
            .recordNanoseconds(
                Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
            )
        return response
    }
}
