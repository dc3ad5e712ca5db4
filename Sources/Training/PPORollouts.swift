// The rollout side of a PPO step in one call (research/rlhf-spec.md §3, steps 5–8): from the
// rollout batch's per-slot log-probs and values and per-row scores to the KL, shaped rewards,
// advantages, returns and the rollout statistics; and the epochs × shuffled minibatches the
// update then runs over (rl_trainer.py `step_with_rollouts`: a shuffled DataLoader with
// drop_last per epoch).
import Models

/// One rollout batch as the policy, reference and value models saw it (rows × window slots).
public struct RolloutBatch<T: TrainingScalar>: Sendable, Equatable {
  public var window: Int
  /// (rows) kept response lengths after truncation.
  public var lengths: [Int]
  /// (rows, window) the policy's log-probs at rollout time (the "old" log-probs).
  public var logProbs: [T]
  /// (rows, window) the reference policy's log-probs.
  public var referenceLogProbs: [T]
  /// (rows, window) the value model's outputs at rollout time.
  public var values: [T]
  /// (rows) sequence scores R (`RewardShaping.sequenceScore`).
  public var scores: [T]

  public init(
    window: Int,
    lengths: [Int],
    logProbs: [T],
    referenceLogProbs: [T],
    values: [T],
    scores: [T]
  ) {
    self.window = window
    self.lengths = lengths
    self.logProbs = logProbs
    self.referenceLogProbs = referenceLogProbs
    self.values = values
    self.scores = scores
  }
}

/// What the update needs from a rollout batch, and what it reports about it.
public struct PreparedRollouts<T: TrainingScalar>: Sendable, Equatable {
  /// (rows, window) per-slot KL to the reference.
  public var kl: [T]
  /// (rows, window) −β·kl plus R at the score slot (before the ×10 or whitening).
  public var shapedRewards: [T]
  /// (rows, window) whitened advantages.
  public var advantages: [T]
  /// (rows, window) value targets.
  public var returns: [T]
  /// Reward mean/std and KL of the batch (the losses are added by the update).
  public var statistics: PPOStatistics
}

public enum PPORollouts {
  public static func prepare<T: TrainingScalar>(
    _ batch: RolloutBatch<T>,
    settings: PPOSettings
  ) -> PreparedRollouts<T> {
    let kl = RewardShaping.kl(
      logProbs: batch.logProbs,
      referenceLogProbs: batch.referenceLogProbs,
      lengths: batch.lengths,
      window: batch.window,
      estimator: settings.klEstimator
    )
    let shaped = RewardShaping.shapedRewards(
      kl: kl,
      scores: batch.scores,
      lengths: batch.lengths,
      window: batch.window,
      klCoefficient: T(settings.klCoefficient),
      placement: settings.window
    )
    let (advantages, returns) = Advantages.estimate(
      shapedRewards: shaped,
      values: batch.values,
      lengths: batch.lengths,
      window: batch.window,
      settings: settings
    )
    return PreparedRollouts(
      kl: kl,
      shapedRewards: shaped,
      advantages: advantages,
      returns: returns,
      statistics: PPOStatistics(scores: batch.scores, kl: kl)
    )
  }

  /// The row indices of each optimizer step's minibatch: for every epoch a fresh seeded
  /// permutation of `rows`, cut into minibatches of `stepBatchSize` (a last partial one is
  /// dropped, as the reference's `drop_last=True`). Deterministic in (seed, step).
  public static func minibatches(
    rows: Int,
    stepBatchSize: Int,
    epochs: Int,
    seed: UInt64,
    step: Int
  ) -> [[Int]] {
    precondition(stepBatchSize > 0 && rows >= 0 && epochs >= 0)
    var generator = Xoshiro256StarStar(seed: seed ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15))
    var out: [[Int]] = []
    for _ in 0..<epochs {
      var order = Array(0..<rows)
      for i in stride(from: order.count - 1, to: 0, by: -1) {
        order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
      }
      for start in stride(from: 0, through: rows - stepBatchSize, by: stepBatchSize) {
        out.append(Array(order[start..<(start + stepBatchSize)]))
      }
    }
    return out
  }
}
