// Checkpoints (issue 13 item 6): the PPO state (policy and value LoRA, the value head, AdamW
// moments and step counts) and the run's metadata in one file written atomically, then ONE
// store transaction that records it, marks the feedback used since the last checkpoint consumed
// and registers a new reward-model version — so after kill -9 the trainer resumes from the last
// committed checkpoint and consumes nothing twice.
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
  func checkpoint(rewardModel: RewardModelVersionRecord? = nil) async throws {
    let id = "ckpt-\(meta.ppoSteps)-\(meta.rewardModelUpdates)-" + Self.suffix()
    let path = loop.directory + "/checkpoints/" + id + ".safetensors"
    let metadata = String(decoding: try JSONEncoder().encode(meta), as: UTF8.self)
    let (run, snapshot) = (ppo!, meta!)
    try await TrainingThread.run("rlhfd-trainer", on: loop.compute) {
      try run.save(to: path, metadata: snapshot)
    }
    let record = TrainerCheckpointRecord(
      id: id,
      step: meta.ppoSteps,
      path: path,
      sha256: "",
      policyVersion: meta.published.last?.id ?? meta.referenceVersion,
      rewardModelVersion: rewardModelVersion,
      createdUnixMs: Self.nowMs(),
      metadata: metadata
    )
    let consumed: [FeedbackKind: [String]] = [
      .prompt: pending.prompts, .preference: pending.preferences, .rating: pending.ratings,
    ]
    let (store, keep) = (self.store, options.keepCheckpoints)
    let (marked, removed) = try await TrainingThread.run("rlhfd-store") {
      (
        try store.commitTrainerCheckpoint(
          record,
          consumed: consumed,
          rewardModelVersion: rewardModel
        ),
        try store.deleteTrainerCheckpoints(keepingLatest: keep)
      )
    }
    for (kind, ids) in consumed {
      let again = Set(ids).subtracting(marked[kind] ?? [])
      if !again.isEmpty {  // a bug: the run used feedback an earlier checkpoint consumed
        logger.error(
          "feedback consumed twice",
          metadata: [
            "kind": .string(kind.rawValue), "ids": .string(again.sorted().joined(separator: ",")),
          ]
        )
      }
    }
    pending = PendingFeedback()
    for old in removed { try? FileManager.default.removeItem(atPath: old.path) }
    loop.metrics.checkpoints.increment()
    loop.publish(.checkpointSaved(id: id, path: path, policyVersion: record.policyVersion))
    logger.info("trainer checkpoint", metadata: ["id": .string(id), "step": "\(meta.ppoSteps)"])
  }
}
