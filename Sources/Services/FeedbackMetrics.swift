// The feedback acknowledgements as swift-metrics (Prometheus names in docs/metrics.md):
// `rlhfd_feedback_acks_total{kind, outcome}` and `rlhfd_feedback_ack_seconds{kind}`, the time
// from the validated submission to its durable ack (the store's group commit included).
import Metrics

enum FeedbackMetrics {
  enum Kind: String, CaseIterable { case preference, prompts, rating }
  enum Outcome: String, CaseIterable { case accepted, duplicate, error }

  static func record(_ kind: Kind, outcome: Outcome, since start: ContinuousClock.Instant) {
    Counter(
      label: "rlhfd_feedback_acks_total",
      dimensions: [("kind", kind.rawValue), ("outcome", outcome.rawValue)]
    ).increment()
    guard outcome != .error else { return }
    let (seconds, attoseconds) = (ContinuousClock.now - start).components
    Timer(
      label: "rlhfd_feedback_ack_seconds",
      dimensions: [("kind", kind.rawValue)],
      preferredDisplayUnit: .seconds
    ).recordNanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
  }
}
