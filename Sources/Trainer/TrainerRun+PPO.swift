// One PPO round: a rollout batch of unconsumed RL prompts (minus the guard's held-out ones),
// filled up with stored preferences' prompts (`RolloutBatch`), rollouts on the live version,
// one PPO step on the training thread, the live version replaced, then publishing and
// checkpointing on their intervals.
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
  /// Returns false when there is not a whole rollout batch of prompts.
  func ppoRound() async throws -> Bool {
    let batch = settings.ppo.rolloutBatchSize
    let candidates = try store.unconsumedPrompts(
      limit: batch + options.guardPrompts + pending.prompts.count + 64
    )
    let used = Set(pending.prompts).union(meta.guardPromptIDs)
    let split = HeldOutSplit(seed: settings.seed, fraction: options.guardPromptFraction)
    var picked: [StoredPrompt] = []
    for prompt in candidates where !used.contains(prompt.id) {
      if meta.guardPromptIDs.count < options.guardPrompts && split.isHeldOut(promptID: prompt.id) {
        meta.guardPromptIDs.append(prompt.id)
        pending.prompts.append(prompt.id)
        continue
      }
      picked.append(prompt)
      if picked.count == batch { break }
    }
    guard let (chosen, cursor) = try fill(picked.map(RolloutCandidate.init)) else { return false }
    let step = ppo.stepsDone
    let started = ContinuousClock.now
    running("PPO step \(step + 1): rollouts")
    let prompts = try loadPrompts(chosen)
    let collector = self.collector()
    let (loop, total) = (self.loop, prompts.count)
    let (rollouts, failed) = try await collector.collect(
      prompts,
      version: liveVersion,
      seeds: seeds(step: step, count: prompts.count),
      progress: { done in loop.publish(.rollouts(step: UInt64(step + 1), done: done, total: total))
      }
    )
    let rlPrompts = Set(chosen.filter { $0.source == .prompt }.map(\.id))
    for failure in failed {
      logger.warning(
        "a rollout prompt was skipped",
        metadata: ["prompt": .string(failure.id), "reason": .string(failure.reason)]
      )
      if rlPrompts.contains(failure.id) { pending.prompts.append(failure.id) }
    }
    guard !rollouts.isEmpty else {
      if let cursor { meta.preferencePromptRow = cursor }
      return true
    }
    running("PPO step \(step + 1): update")
    let (run, gate, tokenizer) = (ppo!, self.gate, policy.tokenizer)
    let inputs = rollouts.map(\.rollout)
    let result = try await TrainingThread.run("rlhfd-trainer", on: loop.compute) {
      gate.begin()
      return try run.advance(
        inputs,
        decode: { (try? tokenizer.decode($0)) ?? "" },
        yielding: gate.yielding
      )
    }
    pending.prompts += rollouts.map(\.promptID).filter(rlPrompts.contains)
    if let cursor { meta.preferencePromptRow = cursor }
    meta.ppoSteps = run.stepsDone
    report(result, rollouts: rollouts, seconds: TrainerGate.seconds(.now - started))
    try await registerLive()
    if meta.ppoSteps % settings.publishEvery == 0 {
      try await publish(kl: result.statistics.kl)
    }
    if meta.ppoSteps % options.checkpointEvery == 0 { try await checkpoint() }
    return true
  }

  func collector() -> RolloutCollector {
    RolloutCollector(
      policy: policy,
      reward: reward,
      settings: settings.ppo,
      eos: eos,
      captionSeed: settings.rewardModel.shuffleCaptions ? settings.seed : nil
    )
  }

  /// The rollout batch: `rlPrompts`, filled up with preferences' prompts after the cursor when
  /// the settings allow (read a page at a time until the batch is full or none are left); nil
  /// when there are not enough.
  func fill(_ rlPrompts: [RolloutCandidate]) throws -> (batch: [RolloutCandidate], cursor: Int64?)?
  {
    let size = settings.ppo.rolloutBatchSize
    guard options.preferencePrompts, rlPrompts.count < size else {
      return RolloutBatch.fill(size: size, prompts: rlPrompts, preferences: [], heldOut: [])
    }
    let heldOut = Set(try store.prompts(ids: meta.guardPromptIDs).map { RolloutCandidate($0).key })
    var preferences: [RolloutCandidate] = []
    var after = meta.preferencePromptRow ?? 0
    while true {
      let filled = RolloutBatch.fill(
        size: size,
        prompts: rlPrompts,
        preferences: preferences,
        heldOut: heldOut
      )
      if filled != nil { return filled }
      let page = try store.preferencePrompts(after: after, limit: max(64, size))
      guard let last = page.last else { return nil }
      preferences += page.map(RolloutCandidate.init)
      after = last.row
    }
  }

  /// The prompts with their images from the store (a prompt whose image is gone is skipped; an
  /// RL prompt is consumed).
  func loadPrompts(_ candidates: [RolloutCandidate]) throws -> [RolloutPrompt] {
    var prompts: [RolloutPrompt] = []
    for prompt in candidates {
      guard let bytes = try store.image(sha256: prompt.record.image.sha256) else {
        logger.warning(
          "a rollout prompt's image is not stored",
          metadata: ["prompt": .string(prompt.id)]
        )
        if prompt.source == .prompt { pending.prompts.append(prompt.id) }
        continue
      }
      prompts.append(
        RolloutPrompt(
          id: prompt.id,
          prompt: prompt.record.prompt,
          image: bytes,
          facts: prompt.record.facts.map { RewardFacts($0) },
          lengthBonus: Double(prompt.record.lengthBonus)
        )
      )
    }
    return prompts
  }

  private func report(_ result: PPOStepResult, rollouts: [CollectedRollout], seconds: Double) {
    let s = result.statistics
    var r = TrainerStepReport(step: UInt64(meta.ppoSteps))
    r.rollouts = rollouts.count
    r.tokens = result.batch.lengths.reduce(0, +)
    r.rewardMean = Float(s.rewardMean)
    r.rewardStd = Float(s.rewardStd)
    r.kl = Float(s.kl)
    r.policyLoss = Float(s.policyLoss)
    r.valueLoss = Float(s.valueLoss)
    r.clipFraction = Float(s.clipFraction)
    r.entropy = Float(s.entropy)
    r.approxKL = Float(s.approxKL)
    let norms = result.optimizerSteps.map(\.gradientNorm)
    r.gradNorm = Float(norms.reduce(0, +) / Double(max(1, norms.count)))
    r.learningRate = result.optimizerSteps.last?.learningRate ?? 0
    r.seconds = seconds
    loop.metrics.record(r)
    loop.publish(.step(r))
    loop.update { st in
      st.step = r.step
      st.lastMeanReward = r.rewardMean
      st.lastStepUnixMs = Self.nowMs()
    }
    logger.info(
      "PPO step",
      metadata: [
        "step": "\(r.step)", "reward_mean": "\(r.rewardMean)", "kl": "\(r.kl)",
        "clip_fraction": "\(r.clipFraction)", "seconds": "\(seconds)",
      ]
    )
  }
}
