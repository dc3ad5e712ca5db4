// A PPO run's models and trainable state (policy, frozen reference, value), owned by one object
// that only the training thread touches: built from the version the run starts from and the
// reward model, advanced one PPO step at a time, saved to and restored from checkpoints.
import Checkpoints
import Engine
import Foundation
import Logging
import Metrics
import Models
import Serving
import ServingTypes
import Store
import StoreMapping
import Tokenizer
import Training

final class PPORun: @unchecked Sendable {
  var models: PPOModels
  let step: PPOStep
  /// PPO steps done (the next step's 0-based index).
  var stepsDone = 0

  /// `start`: the starting version's adapter (nil: the base model, a fresh LoRA whose B is 0);
  /// `value`: the reward model's current LoRA (nil: a fresh one; it must have the shape of
  /// `settings.rewardModel.lora`, which reward-model updates produce) — the value model is the
  /// reward model's backbone and LoRA with a fresh zero head.
  init(
    policyWeights: LlavaWeights,
    rewardWeights: LlavaWeights,
    settings: TrainerSettings,
    start: DecoderAdapter?,
    value: DecoderAdapter?,
    eos: Int32,
    transposedWeights: Bool
  ) throws {
    let policy = try DecoderTraining(
      weights: policyWeights,
      lora: try settings.policyLoRA.decoderSettings(),
      head: .none,
      transposedWeights: transposedWeights
    )
    let valueModel = try DecoderTraining(
      weights: rewardWeights,
      lora: try settings.rewardModel.lora.decoderSettings(),
      head: .zero(bias: true),
      transposedWeights: transposedWeights
    )
    let seed = settings.seed
    models = PPOModels(
      policy: policy,
      policyParameters: try policy.makeParameters(seed: seed, from: start),
      reference: policy,
      referenceParameters: try policy.makeParameters(seed: seed, from: start),
      value: valueModel,
      valueParameters: try valueModel.makeParameters(seed: seed ^ 0x5641_4C55, from: value)
    )
    step = PPOStep(
      settings: settings.ppo,
      optimizer: settings.ppoOptimizer,
      eos: eos,
      seed: seed
    )
  }

  /// One PPO step on `rollouts`; `yielding` runs between micro-batches (an interruption leaves
  /// the parameters partly updated: the caller restores its last checkpoint).
  func advance(
    _ rollouts: [PPORollout],
    decode: ([Int32]) -> String,
    yielding: TrainingYield
  ) throws -> PPOStepResult {
    let result = try step.run(
      rollouts,
      models: &models,
      step: stepsDone,
      decode: decode,
      yielding: yielding
    )
    stepsDone += 1
    return result
  }

  /// Writes the policy and value sets (parameters, AdamW moments and steps) and `metadata`
  /// atomically to `path`.
  func save(to path: String, metadata: TrainerCheckpointMetadata) throws {
    var sets = TrainerCheckpointSets()
    sets.add("policy", models.policyParameters)
    sets.add("value", models.valueParameters)
    try TrainerCheckpoint.write(sets, metadata: metadata, to: path)
  }

  /// Restores both sets from `path`; throws before changing anything when the file does not
  /// fit these models. Returns the file's metadata.
  func restore(from path: String) throws -> TrainerCheckpointMetadata {
    let restored = try TrainerCheckpoint.read(path, metadata: TrainerCheckpointMetadata.self)
    try restored.check("policy", against: models.policyParameters)
    try restored.check("value", against: models.valueParameters)
    try restored.restore("policy", into: &models.policyParameters)
    try restored.restore("value", into: &models.valueParameters)
    stepsDone = restored.metadata.ppoSteps
    return restored.metadata
  }

  /// The policy's LoRA as a servable adapter.
  func policyAdapter() throws -> DecoderAdapter {
    try models.policy.adapter(models.policyParameters)
  }
}
