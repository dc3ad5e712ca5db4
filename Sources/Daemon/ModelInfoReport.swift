// Admin.GetModelInfo's answer, read from the models being served (UNAVAILABLE while one loads).
import Engine
import Foundation
import Serving
import ServingTypes

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
        info.describe(runner)
      }
      if let policy {  // the policy's shapes win: they are what Generate serves
        let runner = try policy.slot.require()
        info.policyModelName = URL(fileURLWithPath: policy.directory).lastPathComponent
        info.describe(runner)
        let versions = runner.versions.listing()
        info.policyVersion = versions.promoted
        info.policyVersions = versions.versions.map(\.id)
      }
      return info
    }
  }
}
