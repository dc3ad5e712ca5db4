// Reward-model training as in LLaVA-RLHF (research/rlhf-spec.md §2: train_reward_model.sh and the
// defaults of finetune_lora_rm.py), plus rlhfd's online rules: pairs from ratings, a held-out
// split by prompt, and adoption only if the held-out accuracy does not drop.
import Engine

/// Reward-model updates from stored preferences.
public struct RewardModelTrainingSettings: Sendable, Equatable {
  /// Passes over the training pairs per update.
  public var epochs: Int
  /// Pairs per optimizer step.
  public var batchSize: Int
  /// Pairs per forward/backward pass (gradients accumulate up to batchSize); memory only.
  public var microBatchSize: Int
  /// Optimizer steps per update at most (the paper stops early at step 200); nil = no cap.
  public var maxSteps: Int?
  public var optimizer: OptimizerSettings
  public var lora: LoRASettings
  /// Weight of the centring term `|mean(r₁ + r₂)|` (1e-3).
  public var centeringCoefficient: Double
  /// Share of prompts held out for accuracy (by prompt: no prompt is on both sides).
  public var heldOutFraction: Double
  /// Fewest training pairs before an update runs.
  public var minimumPairs: Int
  /// Adopt a new reward-model version only if its held-out accuracy is at least the current
  /// version's minus `accuracyTolerance`; false = always adopt.
  public var adoptOnlyIfAccuracyHolds: Bool
  public var accuracyTolerance: Double
  /// Shuffle the captions of the factual prompt per example (seeded); false = stored order.
  public var shuffleCaptions: Bool
  /// Train the score head with the LoRA (LLaVA-RLHF trains its fresh `reward_head` and saves
  /// it beside the adapter); false = the head stays the checkpoint's.
  public var trainHead = true

  /// train_reward_model.sh: 1 epoch, 32 pairs per step, lr 2e-5 constant with 3% warmup
  /// (≈ 6 of 200 steps), weight decay 0, max grad norm 0.3 (default), LoRA r 64 / α 16 /
  /// dropout 0 on the 7 targets, stopped at step 200. Its held-out set is 500 random pairs.
  public static let paper = RewardModelTrainingSettings(
    epochs: 1,
    batchSize: 32,
    microBatchSize: 4,
    maxSteps: 200,
    optimizer: OptimizerSettings(
      learningRate: 2e-5,
      adamW: .init(weightDecay: 0),
      schedule: .constantWithWarmup,
      warmupSteps: 6,
      totalSteps: 200,
      maxGradNorm: 0.3
    ),
    lora: LoRASettings(rank: 64, alpha: 16, dropout: 0, targets: LoRASettings.allTargets),
    centeringCoefficient: 1e-3,
    heldOutFraction: 0.05,
    minimumPairs: 32,
    adoptOnlyIfAccuracyHolds: true,
    accuracyTolerance: 0,
    shuffleCaptions: true
  )

  /// Small models: the same loss and rates on small batches, a larger held-out share so the
  /// accuracy is measured on more than a handful of pairs.
  public static let small: RewardModelTrainingSettings = {
    var s = RewardModelTrainingSettings.paper
    s.batchSize = 8
    s.microBatchSize = 2
    s.maxSteps = 50
    s.optimizer.warmupSteps = 2
    s.optimizer.totalSteps = 50
    s.lora = LoRASettings(rank: 8, alpha: 16, dropout: 0, targets: LoRASettings.allTargets)
    s.heldOutFraction = 0.2
    s.minimumPairs = 16
    return s
  }()

  public init(
    epochs: Int,
    batchSize: Int,
    microBatchSize: Int,
    maxSteps: Int?,
    optimizer: OptimizerSettings,
    lora: LoRASettings,
    centeringCoefficient: Double,
    heldOutFraction: Double,
    minimumPairs: Int,
    adoptOnlyIfAccuracyHolds: Bool,
    accuracyTolerance: Double,
    shuffleCaptions: Bool
  ) {
    self.epochs = epochs
    self.batchSize = batchSize
    self.microBatchSize = microBatchSize
    self.maxSteps = maxSteps
    self.optimizer = optimizer
    self.lora = lora
    self.centeringCoefficient = centeringCoefficient
    self.heldOutFraction = heldOutFraction
    self.minimumPairs = minimumPairs
    self.adoptOnlyIfAccuracyHolds = adoptOnlyIfAccuracyHolds
    self.accuracyTolerance = accuracyTolerance
    self.shuffleCaptions = shuffleCaptions
  }

  /// Whether a candidate version with held-out accuracy `candidate` replaces the current one
  /// (accuracy `current`, nil when there is none to compare with).
  public func adopts(candidate: Double, current: Double?) -> Bool {
    guard adoptOnlyIfAccuracyHolds, let current else { return true }
    return candidate >= current - accuracyTolerance
  }

  func validate() -> [SettingsError] {
    var errors: [SettingsError] = []
    func check(_ ok: Bool, _ field: String, _ message: String) {
      if !ok { errors.append(SettingsError(field: "reward_model." + field, message: message)) }
    }
    check(epochs > 0, "epochs", "must be > 0")
    check(batchSize > 0, "batch_size", "must be > 0")
    check(
      microBatchSize > 0 && (batchSize <= 0 || batchSize % microBatchSize == 0),
      "micro_batch_size",
      "must be > 0 and divide batch_size (\(batchSize))"
    )
    if let maxSteps { check(maxSteps > 0, "max_steps", "must be > 0 when set") }
    check(
      centeringCoefficient.isFinite && centeringCoefficient >= 0,
      "centering_coef",
      "must be finite and >= 0"
    )
    check(
      heldOutFraction > 0 && heldOutFraction < 1,
      "held_out_fraction",
      "must be in (0, 1)"
    )
    check(minimumPairs > 0, "minimum_pairs", "must be > 0")
    check(
      accuracyTolerance.isFinite && accuracyTolerance >= 0,
      "accuracy_tolerance",
      "must be >= 0"
    )
    return errors + optimizer.validate("reward_model.optimizer")
      + lora.validate("reward_model.lora")
  }
}
