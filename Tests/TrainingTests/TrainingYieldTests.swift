// The yield hook between micro-batches (issue 13 §5): how often a PPO step and a reward-model
// update call it, and that an interruption aborts them with their error values.
import Engine
import Glibc
import Models
import Synchronization
import Testing
import Training

/// Counts a hook's calls and throws at call `stopAt` (1-based), if set.
final class YieldProbe: Sendable {
  let calls = Mutex(0)
  let stopAt: Int?

  init(stopAt: Int? = nil) { self.stopAt = stopAt }

  var count: Int { calls.withLock { $0 } }

  var hook: TrainingYield {
    TrainingYield { () throws(TrainingInterrupted) in
      let n = self.calls.withLock { calls in
        calls += 1
        return calls
      }
      if let stop = self.stopAt, n >= stop { throw TrainingInterrupted("shutdown") }
    }
  }
}

@Suite(.enabled(if: PPOStepFixture.present, "Tests/Fixtures is absent"))
struct PPOStepYieldTests {
  typealias F = PPOStepFixture

  /// 4 rollouts, 2 epochs × 2 minibatches of 2: one call per rollout, then one per micro-batch
  /// (micro-batches of 1: 4 × 2; of 2: 4 × 1).
  @Test func calledBeforeEveryRolloutAndMicroBatch() throws {
    for (micro, expected) in [(1, 4 + 8), (2, 4 + 4)] {
      var step = F.step
      step.settings.microBatchSize = micro
      var models = try F.models()
      let probe = YieldProbe()
      let result = try step.run(
        try F.rollouts(),
        models: &models,
        step: 5,
        decode: F.decode,
        yielding: probe.hook
      )
      #expect(result.optimizerSteps.count == 4)
      #expect(probe.count == expected, "micro-batch \(micro)")
    }
  }

  /// A hook that blocks and returns changes nothing: the weights equal a run without a hook.
  @Test func aHookThatReturnsChangesNothing() throws {
    var plain = try F.models()
    _ = try F.step.run(try F.rollouts(), models: &plain, step: 5, decode: F.decode)
    var hooked = try F.models()
    let hook = TrainingYield { usleepShort() }
    _ = try F.step.run(try F.rollouts(), models: &hooked, step: 5, decode: F.decode, yielding: hook)
    #expect(
      Array(hooked.policyParameters.parameters.buffer)
        == Array(plain.policyParameters.parameters.buffer)
    )
    #expect(
      Array(hooked.valueParameters.parameters.buffer)
        == Array(plain.valueParameters.parameters.buffer)
    )
  }

  /// Interrupted on the rollout side nothing moved; interrupted in the third minibatch's
  /// micro-batches two optimizer steps were applied (partial, as documented).
  @Test func anInterruptionAbortsTheStep() throws {
    var models = try F.models()
    let before = Array(models.policyParameters.parameters.buffer)
    let early = YieldProbe(stopAt: 2)
    #expect(throws: PPOStepError.interrupted(TrainingInterrupted("shutdown"))) {
      _ = try F.step.run(
        try F.rollouts(),
        models: &models,
        step: 5,
        decode: F.decode,
        yielding: early.hook
      )
    }
    #expect(early.count == 2)
    #expect(Array(models.policyParameters.parameters.buffer) == before)
    #expect(models.policyParameters.step == 0)
    let late = YieldProbe(stopAt: 4 + 5)  // the first micro-batch of the third minibatch
    #expect(throws: PPOStepError.interrupted(TrainingInterrupted("shutdown"))) {
      _ = try F.step.run(
        try F.rollouts(),
        models: &models,
        step: 5,
        decode: F.decode,
        yielding: late.hook
      )
    }
    #expect(late.count == 9)
    #expect(models.policyParameters.step == 2 && models.valueParameters.step == 2)
  }
}

@Suite(.enabled(if: TrainingFixtures.present, "Tests/Fixtures is absent"))
struct RewardModelYieldTests {
  static var settings: RewardModelTrainingSettings {
    var settings = RewardModelTrainingSettings.small
    settings.batchSize = 4
    settings.microBatchSize = 2
    settings.maxSteps = 2
    settings.epochs = 1
    settings.minimumPairs = 8
    return settings
  }

  /// step: one call per micro-batch; scores and accuracy: one per pair; run: held-out before,
  /// the steps' micro-batches, held-out after.
  @Test func calledBeforeEveryMicroBatchAndPair() throws {
    let weights = try TrainingFixtures.rewardWeights()
    var update = try RewardModelUpdate(weights: weights, settings: Self.settings, seed: 9)
    let pairs = RewardModelUpdateRunTests.toyPairs(5, seed: 2)
    let probe = YieldProbe()
    _ = try update.step(Array(pairs.prefix(4)), yielding: probe.hook)
    #expect(probe.count == 2)
    _ = try update.step(pairs, yielding: probe.hook)  // 5 pairs: micro-batches of 2, 2, 1
    #expect(probe.count == 2 + 3)
    _ = try update.scores(pairs, yielding: probe.hook)
    #expect(probe.count == 5 + 5)
    _ = try update.accuracy(pairs, yielding: probe.hook)
    #expect(probe.count == 10 + 5)
    let run = YieldProbe()
    let result = try RewardModelUpdate.run(
      weights: weights,
      settings: Self.settings,
      train: RewardModelUpdateRunTests.toyPairs(8, seed: 1),
      heldOut: Array(pairs.prefix(3)),
      yielding: run.hook
    )
    #expect(result.steps.count == 2)
    #expect(run.count == 3 + 2 * 2 + 3)
  }

  /// An interrupted step throws `ModelError.interrupted` before its optimizer update: the
  /// parameters and the step count are as before.
  @Test func anInterruptionAbortsTheStep() throws {
    let weights = try TrainingFixtures.rewardWeights()
    var update = try RewardModelUpdate(weights: weights, settings: Self.settings, seed: 9)
    let before = update.snapshot()
    let probe = YieldProbe(stopAt: 2)
    #expect(throws: ModelError.interrupted(TrainingInterrupted("shutdown"))) {
      _ = try update.step(RewardModelUpdateRunTests.toyPairs(4, seed: 2), yielding: probe.hook)
    }
    #expect(update.snapshot() == before && update.parameters.step == 0)
    #expect(throws: ModelError.interrupted(TrainingInterrupted("shutdown"))) {
      _ = try RewardModelUpdate.run(
        weights: weights,
        settings: Self.settings,
        train: RewardModelUpdateRunTests.toyPairs(8, seed: 1),
        heldOut: [],
        yielding: YieldProbe(stopAt: 3).hook
      )
    }
  }
}

/// A short sleep: a hook that blocks for a moment, as a pause would.
private func usleepShort() {
  var request = timespec(tv_sec: 0, tv_nsec: 100_000)
  nanosleep(&request, nil)
}
