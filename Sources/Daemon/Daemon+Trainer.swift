// The online trainer in the service group when the configuration turns it on and it has what it
// needs (a policy, a reward model, the feedback store); its checkpoints and published adapters go
// to `trainer/` beside the feedback database.
import Foundation
import Logging
import Serving
import ServingTypes
import Store
import Trainer
import Training

extension Daemon {
  static func trainer(
    _ configuration: DaemonConfiguration,
    store: SQLiteFeedbackStore?,
    policy: LoadingSlot<ModelRunner>?,
    reward: LoadingSlot<RewardRunner>?,
    logger: Logger
  ) throws -> TrainerLoop? {
    guard configuration.training.enabled else {
      logger.notice("training is off ('training.enabled: false')")
      return nil
    }
    var missing: [String] = []
    if store == nil { missing.append("the feedback store") }
    if policy == nil { missing.append("a policy model") }
    if reward == nil { missing.append("a reward model") }
    guard let store, let policy, let reward, let path = configuration.feedbackStorePath else {
      logger.notice(
        "training is off: it needs \(missing.joined(separator: " and "))",
        metadata: ["missing": .string(missing.joined(separator: ", "))]
      )
      return nil
    }
    var options = try configuration.training.options()
    // The symbolic terms' weights are the daemon's `reward_weights` (Score uses them too); the
    // length term is normalised by PPO's response length.
    let weights = configuration.rewardWeights
    options.settings.ppo.rewardWeights.correctness = weights.correctness
    options.settings.ppo.rewardWeights.length = weights.length
    options.settings.ppo.rewardWeights.noEOS = weights.noEOS
    let directory = (path as NSString).deletingLastPathComponent + "/trainer"
    do {
      for sub in ["", "/checkpoints", "/versions", "/reward-versions"] {
        try FileManager.default.createDirectory(
          atPath: directory + sub,
          withIntermediateDirectories: true
        )
      }
    } catch {
      throw ConfigurationError("cannot create the trainer's directory \(directory): \(error)")
    }
    logger.notice(
      "training is on",
      metadata: [
        "directory": .string(directory), "preset": .string(configuration.training.preset),
        "rollout_batch": "\(options.settings.ppo.rolloutBatchSize)",
        "reward_model_min_pairs": "\(options.settings.rewardModel.minimumPairs)",
        "paused": "\(options.startPaused)",
      ]
    )
    return TrainerLoop(
      options: options,
      store: store,
      directory: directory,
      logger: logger,
      runners: {
        guard let p = policy.loaded, let r = reward.loaded else { return nil }
        return (p, r)
      }
    )
  }
}

extension Daemon {
  /// At start-up, after the reward model loads: the reward-model version the trainer adopted
  /// last (the store's registry) becomes current again, from its PEFT directory.
  static func restoreRewardModelVersion(
    _ runner: RewardRunner,
    store: SQLiteFeedbackStore?,
    logger: Logger
  ) throws {
    guard let store, let record = try store.latestAdoptedRewardModelVersion() else { return }
    guard let path = record.adapterPath, !path.isEmpty else { return }
    let (adapter, head) = try runner.loadVersion(directory: path)
    try runner.versions.restore(
      [
        (
          info: RewardModelVersionInfo(
            id: record.id,
            parent: record.parent,
            source: "trainer",
            adapterPath: path,
            createdUnixMs: record.createdUnixMs
          ),
          adapter: adapter, head: head
        )
      ],
      current: record.id
    )
    logger.notice(
      "reward-model version restored",
      metadata: ["version": .string(record.id), "path": .string(path)]
    )
  }
}
