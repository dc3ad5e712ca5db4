import Checkpoints
import Engine
import Foundation
import Models
import Services
// Admin.GetModelInfo's answer, read from the models being served (UNAVAILABLE while one loads).
import Serving

extension Daemon {
  /// The daemon's version, as `rlhfd --version` and GetModelInfo report it.
  public static let version = "0.1.0"

  static func modelInfo(
    policy: (directory: String, slot: LoadingSlot<ModelRunner>)?,
    reward: (directory: String, slot: LoadingSlot<RewardRunner>)?
  ) -> ModelInfoSource {
    let kernels = ComputeKernels.summary
    return { () throws(BackendError) -> ModelInfo in
      var info = ModelInfo()
      info.daemonVersion = version
      info.computeKernels = kernels
      if let reward {
        let runner = try reward.slot.require()
        info.rewardModelName = URL(fileURLWithPath: reward.directory).lastPathComponent
        info.rewardModelVersion = runner.settings.rewardModelVersion
        Self.describe(runner.model.weights.config, into: &info)
      }
      if let policy {  // the policy's shapes win: they are what Generate serves
        let runner = try policy.slot.require()
        info.policyModelName = URL(fileURLWithPath: policy.directory).lastPathComponent
        let versions = runner.versions.listing()
        info.policyVersion = versions.promoted
        info.policyVersions = versions.versions.map(\.id)
        Self.describe(runner.model.weights.config, into: &info)
      }
      return info
    }
  }

  private static func describe(_ config: LlavaConfig, into info: inout ModelInfo) {
    info.architecture = config.architectures.first ?? ""
    info.contextLength = config.text.maxPositionEmbeddings
    info.vocabSize = config.text.vocabSize
    info.imageSize = config.vision.imageSize
    info.imageTokens = config.imageFeatureCount
  }
}
