// Publishing (issue 13 item 4): every `publish_every` PPO steps the live LoRA becomes an
// immutable, journaled policy version; the guard promotes it when its held-out reward and KL
// pass (with `auto_promote`), and a promoted version of this run that fails the guard later (a
// newer reward model, a failed successor) is rolled back, with the reason in the event.
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
  func publish(kl: Double) async throws {
    let run = ppo!
    let adapter = try await TrainingThread.run("rlhfd-trainer", on: loop.compute) {
      try run.policyAdapter()
    }
    let id = "ppo-\(meta.ppoSteps)-" + Self.suffix()
    let parent = meta.published.last?.id ?? meta.referenceVersion
    let root = loop.directory + "/versions"
    let policy = self.policy!
    _ = try await TrainingThread.run("rlhfd-store") {
      try policy.publishVersion(id: id, parent: parent, adapter: adapter, root: root)
    }
    running("guard: held-out reward of \(id)")
    let heldOut = try await heldOutReward(version: id)
    let baseline = try await baselineReward()
    let verdict = GuardVerdict.evaluate(
      kl: kl,
      heldOutReward: heldOut,
      baseline: baseline,
      settings: settings.guardrails
    )
    meta.published.append(.init(id: id, step: meta.ppoSteps, kl: kl, heldOutReward: heldOut))
    loop.metrics.published.increment()
    let before = policy.versions.promoted
    var promoted = false
    if verdict.passed && settings.guardrails.autoPromote {
      try policy.promoteVersion(id)
      promoted = true
    }
    loop.publish(
      .published(version: id, parent: parent, step: UInt64(meta.ppoSteps), promoted: promoted)
    )
    if promoted {
      loop.publish(
        .promotionChanged(from: before, to: id, rolledBack: false, reason: verdict.reason)
      )
    }
    loop.update { $0.latestPolicyVersion = id }
    logger.notice(
      "policy version published",
      metadata: [
        "version": .string(id), "promoted": "\(promoted)", "guard": .string(verdict.reason),
      ]
    )
    if !verdict.passed { try await recheckPromoted(because: "\(id) failed the guard") }
  }

  /// Re-checks the promoted version when it is one of this run's: rolled back when it fails
  /// the guard now.
  func recheckPromoted(because cause: String) async throws {
    let promoted = policy.versions.promoted
    guard let record = meta.published.last(where: { $0.id == promoted }) else { return }
    let heldOut = try await heldOutReward(version: promoted)
    let verdict = GuardVerdict.evaluate(
      kl: record.kl,
      heldOutReward: heldOut,
      baseline: try await baselineReward(),
      settings: settings.guardrails
    )
    guard !verdict.passed else { return }
    let change = try policy.rollbackPromotion()
    loop.metrics.rollbacks.increment()
    let reason = "\(cause); re-checked: \(verdict.reason)"
    loop.publish(
      .promotionChanged(from: promoted, to: change.promoted, rolledBack: true, reason: reason)
    )
    logger.warning(
      "promoted policy version rolled back",
      metadata: [
        "from": .string(promoted), "to": .string(change.promoted), "reason": .string(reason),
      ]
    )
  }

  /// The mean sequence score (reward-model score + symbolic terms) of `version` on the guard's
  /// held-out prompts, sampled with fixed seeds; nil without held-out prompts.
  func heldOutReward(version: String) async throws -> Double? {
    guard !meta.guardPromptIDs.isEmpty else { return nil }
    let stored = try store.prompts(ids: meta.guardPromptIDs)
    let prompts = try loadPrompts(stored.map(RolloutCandidate.init))
    guard !prompts.isEmpty else { return nil }
    let (rollouts, _) = try await collector().collect(
      prompts,
      version: version,
      seeds: seeds(step: 0, count: prompts.count, salt: 0x6775_6172_64)  // "guard"
    )
    guard !rollouts.isEmpty else { return nil }
    return rollouts.map(\.sequenceScore).reduce(0, +) / Double(rollouts.count)
  }

  /// The reference version's held-out reward under the current reward model (cached per
  /// reward-model version and held-out set).
  func baselineReward() async throws -> Double? {
    let current = reward.versions.currentVersion().id
    if let b = meta.baseline, b.rewardModelVersion == current,
      b.prompts == meta.guardPromptIDs.count
    {
      return b.reward
    }
    guard let value = try await heldOutReward(version: meta.referenceVersion) else { return nil }
    meta.baseline = .init(
      rewardModelVersion: current,
      prompts: meta.guardPromptIDs.count,
      reward: value
    )
    return value
  }
}
