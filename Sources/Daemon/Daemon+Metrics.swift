import Logging
import Metrics
import Observability
import Prometheus
import ServiceLifecycle
import Serving

extension Daemon {
  /// With `metrics_listen`: swift-metrics goes to a Prometheus registry served at
  /// `http://ADDRESS/metrics` (the scheduler's queue, running, KV blocks, tokens, TTFT,
  /// inter-token latency, rejections; see docs/metrics.md). Starts before the models load, so
  /// every instrument is created against it. nil when off.
  static func startMetrics(
    _ configuration: DaemonConfiguration,
    logger: Logger
  ) throws -> MetricsEndpoint? {
    guard let address = configuration.metricsListen else { return nil }
    let registry = PrometheusCollectorRegistry()
    let endpoint: MetricsEndpoint
    do { endpoint = try MetricsEndpoint(address: address, registry: registry) } catch {
      throw ConfigurationError(error.description)
    }
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    logger.notice(
      "metrics",
      metadata: ["url": "http://\(address)/metrics", "port": "\(endpoint.port)"]
    )
    return endpoint
  }
}
