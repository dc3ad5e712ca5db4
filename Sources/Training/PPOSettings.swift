// Every knob of LLaVA-RLHF's PPO (research/rlhf-spec.md §3; RLHF/finetune_lora_ppo.py defaults as
// overridden by RLHF/scripts/*/train_rl_model.sh). `.paper` is the released run; `.small` is the
// default scaled for small models on a CPU (docs/training.md has both side by side).
public import Serving

/// How the per-token KL to the reference policy is estimated (ppo_trainer.py `_shape_reward`).
public enum KLEstimator: String, Sendable, Equatable, Codable {
  /// `max(0, logp − logp_ref)`: k1 clamped at 0 (the paper's).
  case k1Clamped = "k1"
  /// `exp(logp_ref − logp) − 1 − (logp_ref − logp)`.
  case k3
}

/// Which positions of the response window the statistics and means run over.
public enum PPOWindow: String, Sendable, Equatable, Codable {
  /// The paper's: every one of the `responseLength` slots of every rollout, pads included — the
  /// score sits at the last slot, whitening and the loss means have no padding mask, pad slots
  /// (log-prob 0 on both sides, so KL 0 and ratio 1) dilute the means, and the value model's
  /// outputs at pad slots are in the value loss.
  case padded
  /// Only response tokens: the score sits at the last token, whitening and the means are
  /// masked (TRL's current trainer), pad slots get zero gradients everywhere.
  case tokens
}

/// PPO as in LLaVA-RLHF (research/rlhf-spec.md §3, "PPO hyperparameters" and "Order of operations").
public struct PPOSettings: Sendable, Equatable {
  // MARK: Rollouts
  /// Prompts per PPO step (`rollout_batch_size`).
  public var rolloutBatchSize: Int
  /// Rollouts per optimizer step (`step_batch_size`): rolloutBatchSize / stepBatchSize optimizer
  /// steps per epoch.
  public var stepBatchSize: Int
  /// Rollouts per forward/backward pass (gradients accumulate up to stepBatchSize); memory only.
  public var microBatchSize: Int
  /// Passes over each rollout batch (`noptepochs`).
  public var epochs: Int
  /// Response window in tokens (`response_len` = max_new_tokens).
  public var responseLength: Int
  /// Longest prompt in tokens (`query_len`); longer prompts are skipped.
  public var queryLength: Int
  /// Sampling temperature of rollouts and of the training log-probs (logits / temperature).
  public var temperature: Double
  /// The paper's "?" rule: the response is also cut after the first of these tokens (the last one
  /// in this list that occurs wins, even over an earlier EOS; see `ResponseTruncation`). Empty =
  /// off. LLaMA/Vicuna ids: 1577 ("▁?") and 29973 ("?").
  public var extraStopTokenIds: [Int32]

  // MARK: Reward
  /// Fixed KL coefficient β (`kl_coef`; FixedKLController).
  public var klCoefficient: Double
  public var klEstimator: KLEstimator
  /// Whiten the shaped rewards (mean kept) instead of scaling them.
  public var whitenRewards: Bool
  /// Multiplier of the shaped per-token rewards when they are not whitened (the paper's ×10).
  public var rewardScale: Double
  /// Symbolic terms (correctness, length, missing EOS); `lengthNormalizer` must equal
  /// `responseLength` (ℓ = tokens / response_len).
  public var rewardWeights: RewardWeights
  /// Constant added to every sequence score (`reward_bias`).
  public var rewardBias: Double

  // MARK: Advantages and losses
  public var gamma: Double
  public var lambda: Double
  /// ε of whitening: (x − mean) / (std + ε).
  public var whiteningEpsilon: Double
  /// Policy ratio clip ε (`cliprange`).
  public var clipRange: Double
  /// Value clip around the rollout's values (`cliprange_value`).
  public var valueClipRange: Double
  /// Weight of the value loss (`vf_coef`).
  public var valueCoefficient: Double
  /// Weight of an entropy bonus (the paper has none: entropy is only logged).
  public var entropyCoefficient: Double
  public var window: PPOWindow

  /// Optimizer steps per PPO step: epochs × rolloutBatchSize / stepBatchSize.
  public var optimizerStepsPerPPOStep: Int {
    stepBatchSize > 0 ? epochs * (rolloutBatchSize / stepBatchSize) : 0
  }

  /// LLaVA-RLHF 13B/7B (train_rl_model.sh): 512 prompts per step, 2 epochs × 2 minibatches of
  /// 256, response 896, β 0.1 (k1 clamped), ×10 rewards, "?" rule on, −8 / −10·ℓ / +2·c.
  public static let paper = PPOSettings(
    rolloutBatchSize: 512,
    stepBatchSize: 256,
    microBatchSize: 16,
    epochs: 2,
    responseLength: 896,
    queryLength: 128,
    temperature: 1.0,
    extraStopTokenIds: [1577, 29973],
    klCoefficient: 0.1,
    klEstimator: .k1Clamped,
    whitenRewards: false,
    rewardScale: 10,
    rewardWeights: RewardWeights(),
    rewardBias: 0,
    gamma: 1,
    lambda: 1,
    whiteningEpsilon: 1e-8,
    clipRange: 0.2,
    valueClipRange: 0.2,
    valueCoefficient: 0.1,
    entropyCoefficient: 0,
    window: .padded
  )

  /// Small models on a few CPU cores: the paper's coefficients, batches and window scaled down
  /// (16 prompts per step, 2 epochs × 2 minibatches of 8, so 4 optimizer steps per PPO step as
  /// in the paper; a 128-token window with the length term normalised to it; prompts up to 512
  /// tokens, as live prompts are not pre-filtered), the "?" rule off (a quirk of the paper's
  /// data: it cuts every question the model asks), and the `.tokens` window: nothing is computed
  /// at pad slots (the `.padded` window needs the value model's outputs there, with pad keys
  /// masked as in HF), and the means do not shrink with the window. With γ = λ = 1 the
  /// advantages of response tokens before whitening are the same in both windows.
  public static let small: PPOSettings = {
    var s = PPOSettings.paper
    s.rolloutBatchSize = 16
    s.stepBatchSize = 8
    s.microBatchSize = 2
    s.responseLength = 128
    s.queryLength = 512
    s.extraStopTokenIds = []
    s.rewardWeights.lengthNormalizer = 128
    s.window = .tokens
    return s
  }()

  public init(
    rolloutBatchSize: Int,
    stepBatchSize: Int,
    microBatchSize: Int,
    epochs: Int,
    responseLength: Int,
    queryLength: Int,
    temperature: Double,
    extraStopTokenIds: [Int32],
    klCoefficient: Double,
    klEstimator: KLEstimator,
    whitenRewards: Bool,
    rewardScale: Double,
    rewardWeights: RewardWeights,
    rewardBias: Double,
    gamma: Double,
    lambda: Double,
    whiteningEpsilon: Double,
    clipRange: Double,
    valueClipRange: Double,
    valueCoefficient: Double,
    entropyCoefficient: Double,
    window: PPOWindow
  ) {
    self.rolloutBatchSize = rolloutBatchSize
    self.stepBatchSize = stepBatchSize
    self.microBatchSize = microBatchSize
    self.epochs = epochs
    self.responseLength = responseLength
    self.queryLength = queryLength
    self.temperature = temperature
    self.extraStopTokenIds = extraStopTokenIds
    self.klCoefficient = klCoefficient
    self.klEstimator = klEstimator
    self.whitenRewards = whitenRewards
    self.rewardScale = rewardScale
    self.rewardWeights = rewardWeights
    self.rewardBias = rewardBias
    self.gamma = gamma
    self.lambda = lambda
    self.whiteningEpsilon = whiteningEpsilon
    self.clipRange = clipRange
    self.valueClipRange = valueClipRange
    self.valueCoefficient = valueCoefficient
    self.entropyCoefficient = entropyCoefficient
    self.window = window
  }

  /// Every problem, each with the field it concerns; empty when the settings are usable.
  public func validate() -> [SettingsError] {
    var errors: [SettingsError] = []
    func check(_ ok: Bool, _ field: String, _ message: String) {
      if !ok { errors.append(SettingsError(field: "ppo." + field, message: message)) }
    }
    check(rolloutBatchSize > 0, "rollout_batch_size", "must be > 0")
    check(stepBatchSize > 0, "step_batch_size", "must be > 0")
    check(
      stepBatchSize <= 0 || rolloutBatchSize % stepBatchSize == 0,
      "step_batch_size",
      "must divide rollout_batch_size (\(rolloutBatchSize))"
    )
    check(
      microBatchSize > 0 && (stepBatchSize <= 0 || stepBatchSize % microBatchSize == 0),
      "micro_batch_size",
      "must be > 0 and divide step_batch_size (\(stepBatchSize))"
    )
    check(epochs > 0, "epochs", "must be > 0")
    check(responseLength > 0, "response_length", "must be > 0")
    check(queryLength > 0, "query_length", "must be > 0")
    check(temperature.isFinite && temperature > 0, "temperature", "must be finite and > 0")
    check(klCoefficient.isFinite && klCoefficient >= 0, "kl_coef", "must be finite and >= 0")
    check(rewardScale.isFinite && rewardScale > 0, "reward_scale", "must be finite and > 0")
    check(
      [rewardWeights.correctness, rewardWeights.length, rewardWeights.noEOS].allSatisfy(\.isFinite),
      "reward_weights",
      "must be finite"
    )
    check(
      rewardWeights.lengthNormalizer == Float(responseLength),
      "reward_weights.length_normalizer",
      "must equal response_length (\(responseLength)): the length term is tokens / response_len"
    )
    check(rewardBias.isFinite, "reward_bias", "must be finite")
    check((0...1).contains(gamma), "gamma", "must be in [0, 1]")
    check((0...1).contains(lambda), "lambda", "must be in [0, 1]")
    check(whiteningEpsilon.isFinite && whiteningEpsilon > 0, "whitening_epsilon", "must be > 0")
    check(clipRange.isFinite && clipRange > 0 && clipRange < 1, "clip_range", "must be in (0, 1)")
    check(valueClipRange.isFinite && valueClipRange > 0, "value_clip_range", "must be > 0")
    check(valueCoefficient.isFinite && valueCoefficient >= 0, "vf_coef", "must be >= 0")
    check(entropyCoefficient.isFinite, "entropy_coef", "must be finite")
    return errors
  }
}

/// A setting that cannot be used: which one and why.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The setting's path, e.g. `ppo.step_batch_size`.
  public let field: String
  public let message: String

  public init(field: String, message: String) {
    self.field = field
    self.message = message
  }

  public var description: String { "'\(field)' \(message)" }
}
