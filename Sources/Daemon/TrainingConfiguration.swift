// The `training:` section of the configuration: on by default with the small-model preset; a
// preset (`small` / `paper`, Training's TrainerSettings) plus overrides of the knobs operators
// change, validated with the trainer's own rules. Field names are the YAML keys.
public import Serving
public import Trainer
import Training

public struct TrainingConfiguration: Codable, Sendable, Equatable {
  /// Run the online trainer (it needs a reward model and the feedback store).
  public var enabled = true
  /// `small` (the paper's method scaled for small models) or `paper` (the released run).
  public var preset = "small"
  public var startPaused = false
  public var seed: UInt64? = nil
  public var computeShare: Double? = nil
  public var nice: Int? = nil
  public var computeThreads: Int? = nil
  public var checkpointEvery: Int? = nil
  public var keepCheckpoints: Int? = nil
  public var guardPrompts: Int? = nil
  public var guardPromptFraction: Double? = nil
  public var idlePollSeconds: Double? = nil
  public var publishEvery: Int? = nil
  public var autoPromote: Bool? = nil
  public var maxRewardDrop: Double? = nil
  public var maxKL: Double? = nil
  public var rolloutBatchSize: Int? = nil
  public var stepBatchSize: Int? = nil
  public var microBatchSize: Int? = nil
  public var epochs: Int? = nil
  public var responseLength: Int? = nil
  public var queryLength: Int? = nil
  public var klCoefficient: Double? = nil
  public var learningRate: Float? = nil
  public var loraRank: Int? = nil
  public var rewardModelMinimumPairs: Int? = nil
  public var rewardModelBatchSize: Int? = nil
  public var rewardModelMaxSteps: Int? = nil
  public var rewardModelLearningRate: Float? = nil
  public var rewardModelLoraRank: Int? = nil
  public var transposedWeights: Bool? = nil
  public var preferencePrompts: Bool? = nil

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case enabled, preset, seed
    case startPaused = "start_paused"
    case computeShare = "compute_share"
    case nice
    case computeThreads = "compute_threads"
    case checkpointEvery = "checkpoint_every"
    case keepCheckpoints = "keep_checkpoints"
    case guardPrompts = "guard_prompts"
    case guardPromptFraction = "guard_prompt_fraction"
    case idlePollSeconds = "idle_poll_seconds"
    case publishEvery = "publish_every"
    case autoPromote = "auto_promote"
    case maxRewardDrop = "max_reward_drop"
    case maxKL = "max_kl"
    case rolloutBatchSize = "rollout_batch_size"
    case stepBatchSize = "step_batch_size"
    case microBatchSize = "micro_batch_size"
    case epochs
    case responseLength = "response_length"
    case queryLength = "query_length"
    case klCoefficient = "kl_coef"
    case learningRate = "learning_rate"
    case loraRank = "lora_rank"
    case rewardModelMinimumPairs = "reward_model_min_pairs"
    case rewardModelBatchSize = "reward_model_batch_size"
    case rewardModelMaxSteps = "reward_model_max_steps"
    case rewardModelLearningRate = "reward_model_learning_rate"
    case rewardModelLoraRank = "reward_model_lora_rank"
    case transposedWeights = "transposed_weights"
    case preferencePrompts = "preference_prompts"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
    preset = try c.decodeIfPresent(String.self, forKey: .preset) ?? "small"
    startPaused = try c.decodeIfPresent(Bool.self, forKey: .startPaused) ?? false
    seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
    computeShare = try c.decodeIfPresent(Double.self, forKey: .computeShare)
    nice = try c.decodeIfPresent(Int.self, forKey: .nice)
    computeThreads = try c.decodeIfPresent(Int.self, forKey: .computeThreads)
    checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery)
    keepCheckpoints = try c.decodeIfPresent(Int.self, forKey: .keepCheckpoints)
    guardPrompts = try c.decodeIfPresent(Int.self, forKey: .guardPrompts)
    guardPromptFraction = try c.decodeIfPresent(Double.self, forKey: .guardPromptFraction)
    idlePollSeconds = try c.decodeIfPresent(Double.self, forKey: .idlePollSeconds)
    publishEvery = try c.decodeIfPresent(Int.self, forKey: .publishEvery)
    autoPromote = try c.decodeIfPresent(Bool.self, forKey: .autoPromote)
    maxRewardDrop = try c.decodeIfPresent(Double.self, forKey: .maxRewardDrop)
    maxKL = try c.decodeIfPresent(Double.self, forKey: .maxKL)
    rolloutBatchSize = try c.decodeIfPresent(Int.self, forKey: .rolloutBatchSize)
    stepBatchSize = try c.decodeIfPresent(Int.self, forKey: .stepBatchSize)
    microBatchSize = try c.decodeIfPresent(Int.self, forKey: .microBatchSize)
    epochs = try c.decodeIfPresent(Int.self, forKey: .epochs)
    responseLength = try c.decodeIfPresent(Int.self, forKey: .responseLength)
    queryLength = try c.decodeIfPresent(Int.self, forKey: .queryLength)
    klCoefficient = try c.decodeIfPresent(Double.self, forKey: .klCoefficient)
    learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate)
    loraRank = try c.decodeIfPresent(Int.self, forKey: .loraRank)
    rewardModelMinimumPairs = try c.decodeIfPresent(Int.self, forKey: .rewardModelMinimumPairs)
    rewardModelBatchSize = try c.decodeIfPresent(Int.self, forKey: .rewardModelBatchSize)
    rewardModelMaxSteps = try c.decodeIfPresent(Int.self, forKey: .rewardModelMaxSteps)
    rewardModelLearningRate = try c.decodeIfPresent(Float.self, forKey: .rewardModelLearningRate)
    rewardModelLoraRank = try c.decodeIfPresent(Int.self, forKey: .rewardModelLoraRank)
    transposedWeights = try c.decodeIfPresent(Bool.self, forKey: .transposedWeights)
    preferencePrompts = try c.decodeIfPresent(Bool.self, forKey: .preferencePrompts)
  }

  /// The trainer's options: the preset with the overrides; errors name `training.<key>`.
  public func options() throws(ConfigurationError) -> TrainerOptions {
    var s: TrainerSettings
    switch preset {
    case "small": s = .small
    case "paper": s = .paper
    default:
      throw ConfigurationError("'training.preset' must be 'small' or 'paper', not '\(preset)'")
    }
    if let v = seed { s.seed = v }
    if let v = publishEvery { s.publishEvery = v }
    if let v = autoPromote { s.guardrails.autoPromote = v }
    if let v = maxRewardDrop { s.guardrails.maxHeldOutRewardDrop = v }
    if let v = maxKL { s.guardrails.maxKLToReference = v }
    if let v = rolloutBatchSize { s.ppo.rolloutBatchSize = v }
    if let v = stepBatchSize { s.ppo.stepBatchSize = v }
    if let v = microBatchSize { s.ppo.microBatchSize = v }
    if let v = epochs { s.ppo.epochs = v }
    if let v = responseLength {
      s.ppo.responseLength = v
      s.ppo.rewardWeights.lengthNormalizer = Float(v)
    }
    if let v = queryLength { s.ppo.queryLength = v }
    if let v = klCoefficient { s.ppo.klCoefficient = v }
    if let v = learningRate { s.ppoOptimizer.learningRate = v }
    if let v = loraRank { s.policyLoRA.rank = v }
    if let v = rewardModelMinimumPairs { s.rewardModel.minimumPairs = v }
    if let v = rewardModelBatchSize { s.rewardModel.batchSize = v }
    if let v = rewardModelMaxSteps { s.rewardModel.maxSteps = v }
    if let v = rewardModelLearningRate { s.rewardModel.optimizer.learningRate = v }
    if let v = rewardModelLoraRank { s.rewardModel.lora.rank = v }
    var o = TrainerOptions(settings: s)
    o.startPaused = startPaused
    if let v = computeShare { o.computeShare = v }
    if let v = nice { o.niceness = v }
    if let v = computeThreads { o.computeThreads = v }
    if let v = checkpointEvery { o.checkpointEvery = v }
    if let v = keepCheckpoints { o.keepCheckpoints = v }
    if let v = guardPrompts { o.guardPrompts = v }
    if let v = guardPromptFraction { o.guardPromptFraction = v }
    if let v = idlePollSeconds { o.idlePollSeconds = v }
    if let v = transposedWeights { o.transposedWeights = v }
    if let v = preferencePrompts { o.preferencePrompts = v }
    let errors = o.validate()
    if !errors.isEmpty {
      throw ConfigurationError(
        "the 'training' section is not usable: "
          + errors.map { "training.\($0.field): \($0.message)" }.joined(separator: "; ")
      )
    }
    return o
  }
}
