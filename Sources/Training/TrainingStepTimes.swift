// Where a training step's wall time went, for the benchmarks (issue 13: forward, backward and
// optimizer shown separately): a few monotonic-clock reads per sequence, nothing inside the
// kernels. Forward = the training forwards with their heads and losses (a PPO step's rollout-side
// forwards included); backward = the heads' and the decoder's backward; optimizer = clipping,
// the schedule and AdamW.

/// Seconds per part of one training step.
public struct TrainingStepTimes: Sendable, Equatable {
  public var forward = 0.0
  public var backward = 0.0
  public var optimizer = 0.0

  public init() {}

  public var total: Double { forward + backward + optimizer }

  /// Seconds on the monotonic clock (a reading to subtract from a later one).
  static func now() -> Double {
    let d = ContinuousClock.now - Self.origin
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
  }

  private static let origin = ContinuousClock.now
}
