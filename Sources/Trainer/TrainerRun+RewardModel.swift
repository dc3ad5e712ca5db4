// Reward-model updates from stored preferences (issue 13 item 2): when at least `minimum_pairs`
// unconsumed training pairs are stored (preferences, and pairs of rated generations of one
// prompt), LoRA on the reward model with LLaVA-RLHF's loss over the factual prompt (captions
// shuffled per example), measured on the held-out pairs; the candidate becomes the served
// reward-model version only if its held-out accuracy holds. Either way the pairs are consumed
// with the checkpoint that follows.
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
  /// The largest held-out set kept for reward-model accuracy.
  static let heldOutPairCap = 512

  /// Returns false when there are not enough new training pairs.
  func rewardModelRound() async throws -> Bool {
    let rm = settings.rewardModel
    let stored = try store.unconsumedPreferences(limit: 4096)
    let used = Set(pending.preferences).union(meta.heldOutPreferenceIDs)
    let split = HeldOutSplit(seed: settings.seed, fraction: rm.heldOutFraction)
    var train: [TrainingPair] = []
    var trainIDs: [String] = []
    var newHeldOut: [String] = []
    for preference in stored where !used.contains(preference.id) {
      let pair = TrainingPair(preference)
      let room = meta.heldOutPreferenceIDs.count + newHeldOut.count < Self.heldOutPairCap
      if room && split.isHeldOut(promptID: pair.promptKey) {
        newHeldOut.append(preference.id)
      } else {
        train.append(pair)
        trainIDs.append(preference.id)
      }
    }
    let usedRatings = Set(pending.ratings)
    let rated = TrainingPair.fromRatings(
      try store.unconsumedRatings(limit: 4096).filter { !usedRatings.contains($0.id) }
    )
    train += rated.pairs
    guard train.count >= rm.minimumPairs else { return false }
    let started = ContinuousClock.now
    running("reward-model update on \(train.count) pairs")
    let heldOut = try store.preferences(ids: meta.heldOutPreferenceIDs + newHeldOut)
      .map(TrainingPair.init)
    let (reward, store, seed) = (self.reward!, self.store, settings.seed)
    let shuffle = rm.shuffleCaptions ? seed : nil
    let trainPairs = train
    let (trainExamples, heldOutExamples) = try await TrainingThread.run(
      "rlhfd-trainer",
      on: loop.compute
    ) {
      (
        try TrainingPair.examples(trainPairs, runner: reward, store: store, shuffleSeed: shuffle),
        try TrainingPair.examples(heldOut, runner: reward, store: store, shuffleSeed: shuffle)
      )
    }
    let current = reward.versions.currentVersion()
    let (gate, updates) = (self.gate, meta.rewardModelUpdates)
    let transposed = options.transposedWeights
    let result = try await TrainingThread.run("rlhfd-trainer", on: loop.compute) {
      gate.begin()
      return try RewardModelUpdate.run(
        weights: reward.model.weights,
        settings: rm,
        train: trainExamples,
        heldOut: heldOutExamples,
        from: current.adapter,
        head: current.head,
        seed: seed &+ UInt64(updates),
        transposedWeights: transposed,
        yielding: gate.yielding
      )
    }
    meta.rewardModelUpdates += 1
    meta.heldOutPreferenceIDs += newHeldOut
    pending.preferences += trainIDs + newHeldOut
    pending.ratings += rated.used + rated.unusable
    let adoption = result.adoption
    let id = "rm-\(meta.rewardModelUpdates)-" + Self.suffix()
    var record = RewardModelVersionRecord(
      id: id,
      parent: current.id,
      adapterPath: "",
      heldOutAccuracy: adoption.candidateAccuracy,
      trainPairs: train.count,
      adopted: adoption.adopted,
      reason: adoption.reason,
      createdUnixMs: Self.nowMs()
    )
    if adoption.adopted {
      let directory = loop.directory + "/reward-versions/" + id
      let head = RewardScoreHead(weight: result.headWeight, bias: result.headBias)
      let adapter = result.adapter
      try await TrainingThread.run("rlhfd-store") {
        try adapter.write(to: directory, head: head)
      }
      record.adapterPath = directory
      try reward.versions.register(
        RewardModelVersionInfo(
          id: id,
          parent: current.id,
          source: "trainer",
          adapterPath: directory,
          createdUnixMs: record.createdUnixMs
        ),
        adapter: result.adapter,
        head: (result.headWeight, result.headBias),
        makeCurrent: true
      )
      rewardModelVersion = id
    }
    let report = RewardModelUpdateReport(
      version: adoption.adopted ? id : current.id,
      parent: current.id,
      trainPairs: train.count,
      heldOutPairs: heldOutExamples.count,
      heldOutAccuracy: Float(adoption.candidateAccuracy ?? .nan),
      previousHeldOutAccuracy: Float(adoption.currentAccuracy ?? .nan),
      adopted: adoption.adopted,
      reason: adoption.reason
    )
    loop.metrics.rewardModelUpdates.increment()
    if let accuracy = adoption.candidateAccuracy, adoption.adopted {
      loop.metrics.rewardModelAccuracy.record(accuracy)
    }
    loop.publish(.rewardModelUpdated(report))
    loop.update { $0.rewardModelVersion = rewardModelVersion }
    logger.notice(
      "reward-model update",
      metadata: [
        "version": .string(id), "adopted": "\(adoption.adopted)",
        "reason": .string(adoption.reason),
        "pairs": "\(train.count)", "seconds": "\(TrainerGate.seconds(.now - started))",
      ]
    )
    try await checkpoint(rewardModel: record)
    if adoption.adopted { try await recheckPromoted(because: "reward model \(id) adopted") }
    return true
  }
}
