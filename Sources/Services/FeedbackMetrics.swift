// The feedback acknowledgements as swift-metrics (Prometheus names in docs/metrics.md):
// `rlhfd_feedback_acks_total{kind, outcome}` and `rlhfd_feedback_ack_seconds{kind}`, the time
// from the validated submission to its durable ack (the store's group commit included). The
// instruments are made once (after the daemon bootstrapped its metrics backend), not per ack.
import Metrics

enum FeedbackMetrics {
  enum Kind: String, CaseIterable { case preference, prompts, rating }
  enum Outcome: String, CaseIterable { case accepted, duplicate, error }

  private static let acks: [Kind: [Outcome: Counter]] = Dictionary(
    uniqueKeysWithValues: Kind.allCases.map { kind in
      let byOutcome = Outcome.allCases.map { outcome in
        (
          outcome,
          Counter(
            label: "rlhfd_feedback_acks_total",
            dimensions: [("kind", kind.rawValue), ("outcome", outcome.rawValue)]
          )
        )
      }
      return (kind, Dictionary(uniqueKeysWithValues: byOutcome))
    }
  )

  private static let latency: [Kind: Timer] = Dictionary(
    uniqueKeysWithValues: Kind.allCases.map { kind in
      (
        kind,
        Timer(
          label: "rlhfd_feedback_ack_seconds",
          dimensions: [("kind", kind.rawValue)],
          preferredDisplayUnit: .seconds
        )
      )
    }
  )

  static func record(_ kind: Kind, outcome: Outcome, since start: ContinuousClock.Instant) {
    acks[kind]?[outcome]?.increment()
    guard outcome != .error else { return }
    let (seconds, attoseconds) = (ContinuousClock.now - start).components
    latency[kind]?.recordNanoseconds(
      max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    )
  }
}
