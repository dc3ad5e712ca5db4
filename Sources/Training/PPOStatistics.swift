// What one PPO step reports (ppo_trainer.py `record_step_stats`): the rollout batch's rewards and
// KL, and the losses averaged over the step's optimizer steps (the reference's stats_list mean).

public struct PPOStatistics: Sendable, Equatable {
  /// Mean and population std of the sequence scores R over the rollout batch (unscaled).
  public var rewardMean: Double = 0
  public var rewardStd: Double = 0
  /// Mean over rollouts of Σ_t kl_t (nats; `objective/kl_sum_seq`).
  public var kl: Double = 0
  /// Means over the recorded optimizer steps.
  public var policyLoss: Double = 0
  public var valueLoss: Double = 0
  public var clipFraction: Double = 0
  public var valueClipFraction: Double = 0
  public var approxKL: Double = 0
  public var entropy: Double = 0
  /// How many optimizer steps the means are over.
  public var optimizerSteps = 0

  public init() {}

  /// The rollout half: `scores` (rows) the sequence scores, `kl` (rows × window) per-slot KL.
  public init<T: TrainingScalar>(scores: [T], kl: [T]) {
    let n = Double(scores.count)
    guard n > 0 else { return }
    rewardMean = scores.reduce(0) { $0 + Double($1) } / n
    rewardStd =
      (scores.reduce(0) { $0 + (Double($1) - rewardMean) * (Double($1) - rewardMean) } / n)
      .squareRoot()
    self.kl = kl.reduce(0) { $0 + Double($1) } / n
  }

  /// Adds one optimizer step's losses (computed over its whole minibatch) to the running means.
  public mutating func record<T: TrainingScalar>(
    policy: PolicyLossResult<T>,
    value: ValueLossResult<T>,
    entropy: EntropyResult<T>
  ) {
    let k = Double(optimizerSteps)
    func mean(_ old: Double, _ new: T) -> Double { (old * k + Double(new)) / (k + 1) }
    policyLoss = mean(policyLoss, policy.loss)
    valueLoss = mean(valueLoss, value.unweightedLoss)
    clipFraction = mean(clipFraction, policy.clipFraction)
    valueClipFraction = mean(valueClipFraction, value.clipFraction)
    approxKL = mean(approxKL, policy.approxKL)
    self.entropy = mean(self.entropy, entropy.mean)
    optimizerSteps += 1
  }
}
