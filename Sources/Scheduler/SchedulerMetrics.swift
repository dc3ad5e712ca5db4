// The scheduler's swift-metrics instruments, all with the dimension ("model", name).
import Metrics

struct SchedulerMetrics {
  let queueDepth: Gauge
  let running: Gauge
  let blocksUsed: Gauge
  let prefillTokens: Counter
  let decodeTokens: Counter
  let preemptions: Counter
  let timeToFirstToken: Timer
  let interTokenLatency: Timer
  let stepDuration: Timer
  private let factory: any MetricsFactory
  private let model: [(String, String)]
  private var rejections: [AdmissionError.Code: Counter] = [:]

  init(name: String, factory: (any MetricsFactory)?) {
    let factory = factory ?? MetricsSystem.factory
    let model = [("model", name)]
    self.factory = factory
    self.model = model
    queueDepth = Gauge(label: "rlhfd_scheduler_queue_depth", dimensions: model, factory: factory)
    running = Gauge(label: "rlhfd_scheduler_running", dimensions: model, factory: factory)
    blocksUsed = Gauge(
      label: "rlhfd_scheduler_kv_blocks_used",
      dimensions: model,
      factory: factory
    )
    prefillTokens = Counter(
      label: "rlhfd_scheduler_tokens_total",
      dimensions: model + [("kind", "prefill")],
      factory: factory
    )
    decodeTokens = Counter(
      label: "rlhfd_scheduler_tokens_total",
      dimensions: model + [("kind", "decode")],
      factory: factory
    )
    preemptions = Counter(
      label: "rlhfd_scheduler_preemptions_total",
      dimensions: model,
      factory: factory
    )
    timeToFirstToken = Timer(
      label: "rlhfd_scheduler_time_to_first_token_seconds",
      dimensions: model,
      preferredDisplayUnit: .seconds,
      factory: factory
    )
    interTokenLatency = Timer(
      label: "rlhfd_scheduler_inter_token_latency_seconds",
      dimensions: model,
      preferredDisplayUnit: .seconds,
      factory: factory
    )
    stepDuration = Timer(
      label: "rlhfd_scheduler_step_seconds",
      dimensions: model,
      preferredDisplayUnit: .seconds,
      factory: factory
    )
  }

  mutating func rejected(_ code: AdmissionError.Code) {
    if let counter = rejections[code] {
      counter.increment()
      return
    }
    let counter = Counter(
      label: "rlhfd_scheduler_rejections_total",
      dimensions: model + [("reason", code.label)],
      factory: factory
    )
    rejections[code] = counter
    counter.increment()
  }
}

extension AdmissionError.Code {
  /// The `reason` label of the rejection counter.
  var label: String {
    switch self {
    case .queueFull: "queue_full"
    case .tooLong: "too_long"
    case .duplicateID: "duplicate_id"
    case .shuttingDown: "shutting_down"
    case .emptyPrompt: "empty_prompt"
    }
  }
}

extension Timer {
  func record(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant) {
    let (seconds, attoseconds) = (end - start).components
    recordNanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
  }
}
