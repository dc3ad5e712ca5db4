// What each runner contributes to Admin.GetModelInfo: its version and its model's shapes. The
// composition root adds the names, the daemon's version and the kernels.
import Checkpoints
import Models
public import ServingTypes

extension ModelInfo {
  /// The policy's version and shapes; describe the policy after the reward model, so that its
  /// shapes win: they are what Generate serves.
  public mutating func describe(_ runner: ModelRunner) {
    policyVersion = runner.settings.policyVersion
    describe(runner.model.weights.config)
  }

  /// The reward model's current version and shapes.
  public mutating func describe(_ runner: RewardRunner) {
    rewardModelVersion = runner.versions.current.id
    describe(runner.model.weights.config)
  }

  private mutating func describe(_ config: LlavaConfig) {
    architecture = config.architectures.first ?? ""
    contextLength = config.text.maxPositionEmbeddings
    vocabSize = config.text.vocabSize
    imageSize = config.vision.imageSize
    imageTokens = config.imageFeatureCount
  }
}
