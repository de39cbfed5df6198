/// The daemon's HTTP endpoints: `GET /metrics` (Prometheus text 0.0.4) and `GET /healthz`
/// (`HealthReport` JSON); anything else 404. The server has already answered non-GET requests.
///
/// Thread-safety: immutable; called concurrently from HTTP connection threads.
public struct ServeRoutes: Sendable {
    public let metrics: MetricsRegistry
    public let health: @Sendable () -> HealthReport

    public init(metrics: MetricsRegistry, health: @escaping @Sendable () -> HealthReport) {
        self.metrics = metrics
        self.health = health
    }

    /// The response to `request`.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        switch request.path {
        case "/metrics":
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
        case "/healthz":
            return HTTPResponse(status: 200, contentType: "application/json", body: health().json)
        default:
            return .error(404)
        }
    }
}
