// Starting a run: resume from the last committed checkpoint (its metadata names the version the
// run started from, so the reference is rebuilt exactly), or start a new run from the promoted
// version; then serve the live policy as an internal version for the rollouts.
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

extension TrainerRun {
  func start() async throws {
    running("starting")
    rewardModelVersion = reward.versions.currentVersion().id
    let (policy, reward, settings, eos) = (self.policy!, self.reward!, self.settings, self.eos)
    let transposed = options.transposedWeights
    if let record = try await TrainingThread.run(
      "rlhfd-store",
      { [store] in
        try store.latestTrainerCheckpoint()
      }
    ) {
      let metadata = try JSONDecoder().decode(
        TrainerCheckpointMetadata.self,
        from: Data(record.metadata.utf8)
      )
      let start = try adapter(of: metadata.referenceVersion)
      let value = reward.versions.currentVersion().adapter
      ppo = try await TrainingThread.run("rlhfd-trainer", on: loop.compute) {
        let run = try PPORun(
          policyWeights: policy.model.weights,
          rewardWeights: reward.model.weights,
          settings: settings,
          start: start,
          value: value,
          eos: eos,
          transposedWeights: transposed
        )
        let saved = try run.restore(from: record.path)
        guard saved.runID == metadata.runID, saved.ppoSteps == metadata.ppoSteps else {
          throw TrainerFailure(
            "checkpoint \(record.path) holds run \(saved.runID) step \(saved.ppoSteps), but the store recorded run \(metadata.runID) step \(metadata.ppoSteps)"
          )
        }
        return run
      }
      meta = metadata
      logger.notice(
        "training resumed from its checkpoint",
        metadata: [
          "checkpoint": .string(record.id), "ppo_steps": "\(metadata.ppoSteps)",
          "reference": .string(metadata.referenceVersion),
        ]
      )
    } else {
      let reference = policy.versions.promoted
      let start = try adapter(of: reference)
      let value = reward.versions.currentVersion().adapter
      ppo = try await TrainingThread.run("rlhfd-trainer", on: loop.compute) {
        try PPORun(
          policyWeights: policy.model.weights,
          rewardWeights: reward.model.weights,
          settings: settings,
          start: start,
          value: value,
          eos: eos,
          transposedWeights: transposed
        )
      }
      meta = TrainerCheckpointMetadata(
        runID: "run-" + Self.suffix(),
        referenceVersion: reference
      )
      logger.notice("training starts a new run", metadata: ["reference": .string(reference)])
    }
    loop.update { s in
      s.step = UInt64(meta.ppoSteps)
      s.rewardModelVersion = rewardModelVersion
      s.latestPolicyVersion = meta.published.last?.id ?? ""
    }
    try await registerLive()
  }

  /// A served version's adapter (nil: the base model).
  func adapter(of version: String) throws -> DecoderAdapter? {
    let lease = try policy.versions.acquire(version)
    defer { lease.release() }
    guard let handle = lease.adapter else { return nil }
    guard let adapter = (handle as? DecoderAdapterHandle)?.adapter else {
      throw BackendError(
        .failedPrecondition,
        "policy version \(version)'s adapter is not a LoRA the trainer can continue from"
      )
    }
    return adapter
  }

  /// Serves the current policy LoRA as the internal version the next rollouts pin, and drops
  /// the previous one.
  func registerLive() async throws {
    let run = ppo!
    let adapter = try await TrainingThread.run("rlhfd-trainer", on: loop.compute) {
      try run.policyAdapter()
    }
    let id = "trainer-live-\(meta.runID)-\(meta.ppoSteps)"
    try policy.registerInternal(id: id, parent: meta.referenceVersion, adapter: adapter)
    let previous = liveVersion
    liveVersion = id
    if !previous.isEmpty && previous != id { _ = try? policy.removeInternal(id: previous) }
  }
}
