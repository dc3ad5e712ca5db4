// One PPO step on fixed rollouts (research/rlhf-spec.md §3, "Order of operations"; LLaVA-RLHF
// rl_trainer.py `step` / `step_with_rollouts`, ppo_trainer.py `rollout`): truncate each response,
// the policy's ("old") log-probs, the reference's log-probs and the value model's values with the
// training forward (the precision the update uses, so the ratio starts at 1), the sequence
// scores with the symbolic terms, shaped rewards, advantages (GAE, whitening), then epochs ×
// shuffled minibatches: per micro-batch the forward, the clipped losses, the policy loss and the
// vf_coef · value loss back-propagated separately into their LoRA sets; per minibatch ONE AdamW
// update over the policy LoRA, the value LoRA and the value head together (the reference's
// optimizer covers the whole ActorCritic, `clip_grad_norm_(self.policy.parameters())` takes the
// norm over both), at the rate of the PPO step's index: the scheduler steps once per PPO step.
// Generic: models and rollouts in, updated parameters and statistics out (PPOStep+Rollouts.swift
// computes the rollout side, PPOStep+Update.swift the minibatches).
public import Engine
public import Models
public import ServingTypes

/// One sampled rollout as the scheduler returns it.
public struct PPORollout: Sendable, Equatable {
  /// The prompt's token ids (image tokens included), at least one token.
  public var query: [Int32]
  /// `(N, C)` the policy's image rows for the N image tokens, or nil (no image).
  public var imageEmbeddings: [Float]?
  /// `(N, C)` the value model's image rows (the reward model's resolution); nil = the policy's.
  public var valueImageEmbeddings: [Float]?
  /// The sampled response (no pads), at most `responseLength` tokens; truncated by the step.
  public var response: [Int32]
  /// The reward model's factual score of the (truncated) response.
  public var rewardModelScore: Double
  /// The prompt's facts for the correctness term (nil: none).
  public var facts: RewardFacts?
  /// The prompt's `length_bonus` m (1 by default).
  public var lengthBonus: Double

  public init(
    query: [Int32],
    imageEmbeddings: [Float]? = nil,
    valueImageEmbeddings: [Float]? = nil,
    response: [Int32],
    rewardModelScore: Double,
    facts: RewardFacts? = nil,
    lengthBonus: Double = 1
  ) {
    self.query = query
    self.imageEmbeddings = imageEmbeddings
    self.valueImageEmbeddings = valueImageEmbeddings
    self.response = response
    self.rewardModelScore = rewardModelScore
    self.facts = facts
    self.lengthBonus = lengthBonus
  }
}

/// The three models of a PPO run and their trainable tensors: the policy (trained), the
/// reference (frozen: the version the run started from), the value model (trained: the reward
/// model's backbone with its LoRA copied and a fresh zero head).
public struct PPOModels: ~Copyable {
  public let policy: DecoderTraining
  public var policyParameters: TrainableParameters
  /// Usually `policy` itself (same base and LoRA shape) with the starting adapter's values.
  public let reference: DecoderTraining
  public let referenceParameters: TrainableParameters
  public let value: DecoderTraining
  public var valueParameters: TrainableParameters

  public init(
    policy: DecoderTraining,
    policyParameters: consuming TrainableParameters,
    reference: DecoderTraining,
    referenceParameters: consuming TrainableParameters,
    value: DecoderTraining,
    valueParameters: consuming TrainableParameters
  ) {
    self.policy = policy
    self.policyParameters = policyParameters
    self.reference = reference
    self.referenceParameters = referenceParameters
    self.value = value
    self.valueParameters = valueParameters
  }
}

/// Why a PPO step could not run.
public enum PPOStepError: Error, Sendable, Equatable, CustomStringConvertible {
  case settings([SettingsError])
  /// Rollout `index` cannot be trained on.
  case rollout(index: Int, reason: String)
  /// A setting this implementation does not support yet.
  case unsupported(String)
  /// Optimizer step `optimizerStep` of the PPO step had a NaN or infinite gradient norm; the
  /// earlier optimizer steps of the PPO step were applied (restore a checkpoint to undo them).
  case nonFiniteGradient(optimizerStep: Int, norm: Double)
  case model(ModelError)
  /// The yield hook stopped the step (`TrainingYield`). The optimizer steps of earlier
  /// minibatches were applied and the current one's gradients are partial: restore the trainer
  /// checkpoint before training again.
  case interrupted(TrainingInterrupted)

  public var description: String {
    switch self {
    case .settings(let errors):
      "invalid settings: \(errors.map(\.description).joined(separator: "; "))"
    case .rollout(let index, let reason): "rollout \(index): \(reason)"
    case .unsupported(let what): "unsupported: \(what)"
    case .nonFiniteGradient(let step, let norm): "optimizer step \(step): gradient norm \(norm)"
    case .model(let error): "model: \(error)"
    case .interrupted(let interruption): "\(interruption)"
    }
  }
}

/// What one optimizer step of a PPO step did.
public struct PPOOptimizerStepRecord: Sendable, Equatable {
  /// The minibatch's rows.
  public var rows: [Int]
  public var policyLoss: Double
  public var valueLoss: Double
  public var clipFraction: Double
  public var valueClipFraction: Double
  /// max |ρ − 1| over the minibatch's response tokens (0 at the first minibatch up to rounding).
  public var maxRatioDeviation: Double
  /// The global gradient norm over policy and value before clipping.
  public var gradientNorm: Double
  public var learningRate: Float
}

/// A PPO step's outcome.
public struct PPOStepResult: Sendable {
  public var statistics: PPOStatistics
  public var optimizerSteps: [PPOOptimizerStepRecord]
  /// The rollout side (KL, shaped rewards, advantages, returns) and the batch it came from.
  public var batch: RolloutBatch<Float>
  public var prepared: PreparedRollouts<Float>
  /// Where the step's time went (the rollout-side forwards count as forward).
  public var times = TrainingStepTimes()
}

/// One PPO step with the given settings.
public struct PPOStep: Sendable {
  public var settings: PPOSettings
  public var optimizer: OptimizerSettings
  /// The tokenizer's EOS id (truncation).
  public var eos: Int32
  /// Seeds the minibatch shuffles (with the step index) and the LoRA dropout masks.
  public var seed: UInt64

  public init(settings: PPOSettings, optimizer: OptimizerSettings, eos: Int32, seed: UInt64) {
    self.settings = settings
    self.optimizer = optimizer
    self.eos = eos
    self.seed = seed
  }

  /// Runs PPO step `step` (0-based: the scheduler's count of PPO steps done before this one) on
  /// `rollouts`, updating `models.policyParameters` and `models.valueParameters`. `decode` turns a
  /// kept response into text for the correctness term. `minibatches` replaces the seeded shuffle
  /// (a reference comparison gives its own row order). `yielding` is called before each
  /// rollout's forwards (old and reference log-probs, values) and before every micro-batch's
  /// forward and backward: rollouts + Σ over minibatches of ⌈rows / microBatchSize⌉ calls; when
  /// it throws, the step ends with `.interrupted` (parameters possibly partially updated).
  public func run(
    _ rollouts: [PPORollout],
    models: inout PPOModels,
    step: Int,
    decode: ([Int32]) -> String,
    minibatches: [[Int]]? = nil,
    yielding: TrainingYield? = nil
  ) throws(PPOStepError) -> PPOStepResult {
    var errors = settings.validate()
    errors += optimizer.validate("ppo_optimizer")
    guard errors.isEmpty else { throw .settings(errors) }
    guard settings.window == .tokens else {
      throw .unsupported(
        "the .padded window needs the value model over pad slots with pad keys masked"
      )
    }
    guard settings.temperature == 1 else {
      throw .unsupported(
        "temperature \(settings.temperature): the training log-probs use logits / 1"
      )
    }
    guard step >= 0 else { throw .unsupported("negative step \(step)") }
    let started = TrainingStepTimes.now()
    let rows = try prepareRows(rollouts, models: models, decode: decode)
    let batch = try rolloutBatch(rows, models: models, yielding: yielding)
    let rolloutSeconds = TrainingStepTimes.now() - started
    let prepared = PPORollouts.prepare(batch, settings: settings)
    let order =
      minibatches
      ?? PPORollouts.minibatches(
        rows: rows.count,
        stepBatchSize: settings.stepBatchSize,
        epochs: settings.epochs,
        seed: seed,
        step: step
      )
    for (k, minibatch) in order.enumerated() {
      for row in minibatch where !(0..<rows.count).contains(row) {
        throw .rollout(index: row, reason: "minibatch \(k) names a row outside 0 ..< \(rows.count)")
      }
    }
    var result = PPOStepResult(
      statistics: prepared.statistics,
      optimizerSteps: [],
      batch: batch,
      prepared: prepared
    )
    result.times.forward = rolloutSeconds
    let learningRate = optimizer.learningRateSchedule.learningRate(
      base: optimizer.learningRate,
      step: step
    )
    for (k, minibatch) in order.enumerated() {
      let record = try optimizerStep(
        minibatch,
        index: k,
        rows: rows,
        batch: batch,
        prepared: prepared,
        models: &models,
        learningRate: learningRate,
        dropoutSeed: seed ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15) &+ UInt64(k),
        statistics: &result.statistics,
        yielding: yielding,
        times: &result.times
      )
      result.optimizerSteps.append(record)
    }
    return result
  }

  /// One yield point: the hook's interruption as this step's error.
  func yieldPoint(_ hook: TrainingYield?) throws(PPOStepError) {
    guard let hook else { return }
    do { try hook() } catch { throw .interrupted(error) }
  }
}
