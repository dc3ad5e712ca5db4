// The optimizer, LoRA, publishing and guard knobs shared by PPO and reward-model training, and the
// whole trainer's settings (research/rlhf-spec.md §2–§3; docs/training.md).
public import Engine

/// Which learning-rate schedule (Engine's `LearningRateSchedule`, transformers' formulas).
public enum ScheduleKind: String, Sendable, Equatable, Codable {
  case constantWithWarmup = "constant_with_warmup"
  case cosineWithWarmup = "cosine"
}

/// AdamW with a schedule and gradient-norm clipping.
public struct OptimizerSettings: Sendable, Equatable {
  public var learningRate: Float
  /// β₁, β₂, ε, weight decay (HF TrainingArguments' 0.9 / 0.999 / 1e-8; decay 0 in both runs).
  public var adamW: AdamW
  public var schedule: ScheduleKind
  public var warmupSteps: Int
  /// Steps the cosine runs over (PPO: ⌊total_epochs · N_prompts / rollout_batch_size⌋, stepped
  /// once per PPO step, not per optimizer step).
  public var totalSteps: Int
  /// Gradient-norm clip (`max_grad_norm`) over all trainable parameters; nil = none.
  public var maxGradNorm: Float?

  public init(
    learningRate: Float,
    adamW: AdamW,
    schedule: ScheduleKind,
    warmupSteps: Int,
    totalSteps: Int,
    maxGradNorm: Float?
  ) {
    self.learningRate = learningRate
    self.adamW = adamW
    self.schedule = schedule
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
    self.maxGradNorm = maxGradNorm
  }

  public var learningRateSchedule: LearningRateSchedule {
    switch schedule {
    case .constantWithWarmup: .constant(warmupSteps: warmupSteps)
    case .cosineWithWarmup: .cosine(warmupSteps: warmupSteps, totalSteps: totalSteps)
    }
  }

  func validate(_ path: String) -> [SettingsError] {
    var errors: [SettingsError] = []
    func check(_ ok: Bool, _ field: String, _ message: String) {
      if !ok { errors.append(SettingsError(field: path + "." + field, message: message)) }
    }
    check(learningRate.isFinite && learningRate > 0, "learning_rate", "must be finite and > 0")
    check(
      (0..<1).contains(adamW.beta1) && (0..<1).contains(adamW.beta2),
      "betas",
      "must be in [0, 1)"
    )
    check(adamW.eps.isFinite && adamW.eps > 0, "eps", "must be > 0")
    check(adamW.weightDecay.isFinite && adamW.weightDecay >= 0, "weight_decay", "must be >= 0")
    check(warmupSteps >= 0, "warmup_steps", "must be >= 0")
    check(
      schedule == .constantWithWarmup || totalSteps > warmupSteps,
      "total_steps",
      "must be > warmup_steps (\(warmupSteps)) for the cosine schedule"
    )
    if let clip = maxGradNorm { check(clip.isFinite && clip > 0, "max_grad_norm", "must be > 0") }
    return errors
  }
}

/// A LoRA adapter's shape (PEFT's `r`, `lora_alpha`, `lora_dropout`, `target_modules`).
public struct LoRASettings: Sendable, Equatable {
  public static let allTargets = [
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
  ]
  public var rank: Int
  public var alpha: Float
  public var dropout: Float
  public var targets: [String]

  public init(rank: Int, alpha: Float, dropout: Float, targets: [String]) {
    self.rank = rank
    self.alpha = alpha
    self.dropout = dropout
    self.targets = targets
  }

  func validate(_ path: String) -> [SettingsError] {
    var errors: [SettingsError] = []
    func check(_ ok: Bool, _ field: String, _ message: String) {
      if !ok { errors.append(SettingsError(field: path + "." + field, message: message)) }
    }
    check(rank > 0, "rank", "must be > 0")
    check(alpha.isFinite && alpha > 0, "alpha", "must be finite and > 0")
    check((0..<1).contains(dropout), "dropout", "must be in [0, 1)")
    check(!targets.isEmpty, "targets", "must name at least one module")
    let unknown = targets.filter { !Self.allTargets.contains($0) }
    check(
      unknown.isEmpty,
      "targets",
      "unknown modules \(unknown); allowed: \(Self.allTargets.joined(separator: ", "))"
    )
    check(Set(targets).count == targets.count, "targets", "must not repeat a module")
    return errors
  }
}

/// When a published policy version may be promoted, and when a promoted one is rolled back.
public struct GuardSettings: Sendable, Equatable {
  /// Largest allowed drop of the mean held-out sequence score (reward-model score plus symbolic
  /// terms, unscaled) against the version the run started from.
  public var maxHeldOutRewardDrop: Double
  /// Ceiling on the mean per-sequence KL to the reference (Σ_t kl_t, nats; the paper's
  /// `objective/kl_sum_seq`).
  public var maxKLToReference: Double
  /// Promote versions that pass the guard without an operator.
  public var autoPromote: Bool

  public init(maxHeldOutRewardDrop: Double, maxKLToReference: Double, autoPromote: Bool) {
    self.maxHeldOutRewardDrop = maxHeldOutRewardDrop
    self.maxKLToReference = maxKLToReference
    self.autoPromote = autoPromote
  }
}

/// Everything the trainer is configured with.
public struct TrainerSettings: Sendable, Equatable {
  public var ppo: PPOSettings
  /// PPO's optimizer (one AdamW over the policy and value LoRA and the value head).
  public var ppoOptimizer: OptimizerSettings
  /// Shape of the policy LoRA when the run starts from a version without one (and of the value
  /// LoRA when the reward model has none).
  public var policyLoRA: LoRASettings
  public var rewardModel: RewardModelTrainingSettings
  /// Publish an immutable policy version every this many PPO steps.
  public var publishEvery: Int
  public var guardrails: GuardSettings
  public var seed: UInt64

  /// The released run (train_rl_model.sh, train_reward_model.sh). The paper publishes nothing
  /// while training; `publishEvery` 10 is its checkpoint interval, and the guard is rlhfd's own.
  public static let paper = TrainerSettings(
    ppo: .paper,
    ppoOptimizer: OptimizerSettings(
      learningRate: 3e-5,
      adamW: AdamW(weightDecay: 0),
      schedule: .cosineWithWarmup,
      warmupSteps: 5,
      totalSteps: 560,
      maxGradNorm: 1.0
    ),
    policyLoRA: LoRASettings(rank: 64, alpha: 16, dropout: 0, targets: LoRASettings.allTargets),
    rewardModel: .paper,
    publishEvery: 10,
    guardrails: GuardSettings(maxHeldOutRewardDrop: 0.1, maxKLToReference: 10, autoPromote: false),
    seed: 42
  )

  /// The default: the paper's method and rates, scaled for small models (docs/training.md).
  public static let small: TrainerSettings = {
    var s = TrainerSettings.paper
    s.ppo = .small
    s.ppoOptimizer.warmupSteps = 2
    s.ppoOptimizer.totalSteps = 200
    s.policyLoRA = LoRASettings(rank: 8, alpha: 16, dropout: 0, targets: LoRASettings.allTargets)
    s.rewardModel = .small
    s.publishEvery = 5
    s.guardrails = GuardSettings(maxHeldOutRewardDrop: 0.1, maxKLToReference: 5, autoPromote: true)
    return s
  }()

  public init(
    ppo: PPOSettings,
    ppoOptimizer: OptimizerSettings,
    policyLoRA: LoRASettings,
    rewardModel: RewardModelTrainingSettings,
    publishEvery: Int,
    guardrails: GuardSettings,
    seed: UInt64
  ) {
    self.ppo = ppo
    self.ppoOptimizer = ppoOptimizer
    self.policyLoRA = policyLoRA
    self.rewardModel = rewardModel
    self.publishEvery = publishEvery
    self.guardrails = guardrails
    self.seed = seed
  }

  /// Every problem of every part; empty when the settings are usable.
  public func validate() -> [SettingsError] {
    var errors = ppo.validate() + ppoOptimizer.validate("ppo_optimizer")
    errors += policyLoRA.validate("policy_lora") + rewardModel.validate()
    if publishEvery <= 0 {
      errors.append(SettingsError(field: "publish_every", message: "must be > 0"))
    }
    let g = guardrails
    if !(g.maxHeldOutRewardDrop.isFinite && g.maxHeldOutRewardDrop >= 0) {
      errors.append(SettingsError(field: "guard.max_reward_drop", message: "must be >= 0"))
    }
    if !(g.maxKLToReference.isFinite && g.maxKLToReference > 0) {
      errors.append(SettingsError(field: "guard.max_kl", message: "must be > 0"))
    }
    return errors
  }
}
