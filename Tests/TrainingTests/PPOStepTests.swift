// One full PPO step on the tiny policy and value models (PPOStep) against the torch
// re-implementation of tools/reference/make_ppo_step_fixture.py (float64 autograd,
// torch.optim.AdamW, clip_grad_norm_, the cosine LambdaLR): every LoRA tensor and the value head
// after the step within 1e-4 of the largest element of the tensor. And what must hold whatever
// the reference says: the ratio is 1 at the first minibatch, a zero learning rate changes
// nothing, and the step improves the objectives it optimizes.
import Checkpoints
import Engine
import Foundation
import Models
import Testing
import Training

@Suite(.enabled(if: PPOStepFixture.present, "Tests/Fixtures/training/ppo-step.* is absent"))
struct PPOStepTests {
  typealias F = PPOStepFixture

  /// max |a − b| / max |b| (b the reference).
  static func relative(_ a: [Float], _ b: [Float]) -> Double {
    relativeError(a, b.map(Double.init))
  }

  @Test func oneStepEqualsTorch() throws {
    var models = try F.models()
    let rollouts = try F.rollouts()
    let clock = ContinuousClock()
    var result: PPOStepResult?
    let elapsed = try clock.measure {
      result = try F.step.run(
        rollouts,
        models: &models,
        step: F.stepIndex,
        decode: F.decode,
        minibatches: F.minibatches
      )
    }
    let step = try #require(result)
    // The rollout side.
    let rollout = try [
      ("old_logprobs", step.batch.logProbs), ("ref_logprobs", step.batch.referenceLogProbs),
      ("values", step.batch.values), ("advantages", step.prepared.advantages),
      ("returns", step.prepared.returns),
    ].map { name, values in (name, Self.relative(values, try F.tensor(name))) }
    // The weights after the step, and the change the step made.
    var worstWeight = 0.0
    var worstUpdate = 0.0
    var largestUpdate = 0.0
    for (prefix, set) in [("policy", 0), ("value", 1)] {
      let segments = set == 0 ? models.policyParameters.segments : models.valueParameters.segments
      for segment in segments {
        let got =
          set == 0
          ? F.values(models.policyParameters, segment) : F.values(models.valueParameters, segment)
        let expected = try F.tensor("\(prefix).final.\(segment.name)")
        let initial = try F.tensor("\(prefix).initial.\(segment.name)")
        worstWeight = max(worstWeight, Self.relative(got, expected))
        let delta = zip(got, initial).map { Double($0) - Double($1) }
        let expectedDelta = zip(expected, initial).map { Double($0) - Double($1) }
        worstUpdate = max(worstUpdate, relativeError(delta, expectedDelta))
        largestUpdate = max(largestUpdate, expectedDelta.map(abs).max() ?? 0)
      }
    }
    let statistics = try #require(F.info["statistics"] as? [String: Any])
    let torchSteps = try #require(statistics["optimizer_steps"] as? [[String: Any]])
    var worstStatistic = 0.0
    for (record, expected) in zip(step.optimizerSteps, torchSteps) {
      for (got, key) in [
        (record.policyLoss, "policy_loss"), (record.valueLoss, "value_loss"),
        (record.clipFraction, "clipfrac"), (record.valueClipFraction, "vf_clipfrac"),
        (record.gradientNorm, "grad_norm"), (record.maxRatioDeviation, "max_ratio_dev"),
      ] {
        worstStatistic = max(worstStatistic, scalarError(got, F.number(expected[key])))
      }
    }
    let rollupError = [
      scalarError(step.statistics.rewardMean, F.number(statistics["reward_mean"])),
      scalarError(step.statistics.rewardStd, F.number(statistics["reward_std"])),
      scalarError(step.statistics.kl, F.number(statistics["kl"])),
    ].max()!
    print(
      """
      PPO step vs torch: rollout \(rollout.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        weights after the step: worst rel \(worstWeight); update (after − before, largest \
      \(largestUpdate)): worst rel \(worstUpdate)
        statistics: per optimizer step worst \(worstStatistic), rollout \(rollupError)
        time: \(elapsed) for 4 rollouts, \(step.optimizerSteps.count) optimizer steps
      """
    )
    for (_, error) in rollout { #expect(error <= 1e-5) }
    #expect(worstWeight <= 1e-4)
    #expect(worstUpdate <= 1e-3)
    #expect(worstStatistic <= 1e-4 && rollupError <= 1e-5)
    #expect(step.optimizerSteps.count == 4 && step.statistics.optimizerSteps == 4)
    #expect(step.optimizerSteps.allSatisfy { $0.learningRate > 0 })
    // The parts were timed (TrainingBench's figures) and lie within the step's wall time.
    let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    #expect(step.times.forward > 0 && step.times.backward > 0 && step.times.optimizer > 0)
    #expect(step.times.total <= wall)
  }

  /// Rollout log-probs and training log-probs come from the same forward: at the first
  /// minibatch (seeded shuffle) ρ = 1 within 1e-4 (fp32) and nothing is clipped.
  @Test func ratioIsOneAtTheFirstMinibatch() throws {
    var models = try F.models()
    let result = try F.step.run(try F.rollouts(), models: &models, step: 5, decode: F.decode)
    let first = try #require(result.optimizerSteps.first)
    print(
      "first minibatch: max |ρ − 1| \(first.maxRatioDeviation), clip fraction \(first.clipFraction)"
    )
    #expect(first.maxRatioDeviation <= 1e-4)
    #expect(first.clipFraction == 0)
    // Later minibatches train on a moved policy.
    #expect(result.optimizerSteps.last!.maxRatioDeviation > 1e-3)
  }

  /// The same with bf16 products (`precision: bf16`, transposed panels): the rollout side and
  /// the minibatches run the same bf16 forward, so ρ = 1 holds as in fp32.
  @Test(.enabled(if: BF16Products.isSupported, "bf16 products need AVX512-BF16 or AMX"))
  func ratioIsOneAtTheFirstMinibatchWithBF16Products() throws {
    var models = try F.models(bf16Policy: true)
    #expect(models.policy.transposedByteCount > 0)
    let result = try F.step.run(try F.rollouts(), models: &models, step: 5, decode: F.decode)
    let first = try #require(result.optimizerSteps.first)
    print("bf16 first minibatch: max |ρ − 1| \(first.maxRatioDeviation)")
    #expect(first.maxRatioDeviation <= 1e-4)
    #expect(first.clipFraction == 0)
    #expect(result.optimizerSteps.allSatisfy { $0.gradientNorm.isFinite && $0.gradientNorm > 0 })
  }

  /// An `<image>` token the policy sampled in a response is an ordinary token there (serving's
  /// decode embeds its own row): the image rows replace only the query's image tokens, so the
  /// step trains on it instead of failing on a count of image tokens that exceeds the rows.
  @Test func anImageTokenSampledInAResponseIsAnOrdinaryToken() throws {
    var models = try F.models()
    var rollouts = try F.rollouts()
    let imageToken = Int32(models.policy.weights.config.imageTokenIndex)
    let row = try #require(rollouts.firstIndex { $0.imageEmbeddings != nil })
    rollouts[row].response[0] = imageToken
    let result = try F.step.run(rollouts, models: &models, step: 5, decode: F.decode)
    let slot = row * result.batch.window
    #expect(result.batch.logProbs[slot].isFinite && result.batch.logProbs[slot] < 0)
    #expect(result.optimizerSteps.allSatisfy { $0.gradientNorm.isFinite })
  }

  /// PPO step 0 with warmup runs at learning rate 0 (transformers' LambdaLR, stepped once per
  /// PPO step): nothing moves, AdamW's step count still advances.
  @Test func zeroLearningRateLeavesTheWeights() throws {
    var models = try F.models()
    let before = Array(models.policyParameters.parameters.buffer)
    let valueBefore = Array(models.valueParameters.parameters.buffer)
    let result = try F.step.run(try F.rollouts(), models: &models, step: 0, decode: F.decode)
    #expect(result.optimizerSteps.allSatisfy { $0.learningRate == 0 })
    #expect(Array(models.policyParameters.parameters.buffer) == before)
    #expect(Array(models.valueParameters.parameters.buffer) == valueBefore)
    #expect(models.policyParameters.step == 4 && models.valueParameters.step == 4)
  }

  /// The step descends what it optimizes: evaluated on the same rollouts afterwards, the
  /// clipped policy loss (0 at ratio 1: whitened advantages have mean 0) is negative and the
  /// value loss is lower. A flipped sign anywhere (dLogProb, dValue, the optimizer) fails this.
  @Test func stepImprovesItsObjectives() throws {
    var models = try F.models()
    let rollouts = try F.rollouts()
    let result = try F.step.run(rollouts, models: &models, step: 5, decode: F.decode)
    let start = try Self.losses(try F.models(), rollouts, result)
    let after = try Self.losses(models, rollouts, result)
    print(
      "objectives: policy \(start.policy) → \(after.policy), value \(start.value) → \(after.value)"
    )
    #expect(abs(start.policy) < 1e-5)
    #expect(after.policy < start.policy - 1e-3)
    #expect(after.value < start.value)
  }

  /// What the step cannot train on is an error value, before anything moves.
  @Test func rejectsWhatItCannotTrain() throws {
    var models = try F.models()
    let before = Array(models.policyParameters.parameters.buffer)
    let rollouts = try F.rollouts()
    func error(_ step: PPOStep, _ rollouts: [PPORollout]) -> PPOStepError? {
      do {
        _ = try step.run(rollouts, models: &models, step: 3, decode: F.decode)
        return nil
      } catch {
        return error
      }
    }
    var padded = F.step
    padded.settings.window = .padded
    guard case .unsupported = error(padded, rollouts) else {
      Issue.record("padded")
      return
    }
    var hot = F.step
    hot.settings.temperature = 0.7
    guard case .unsupported = error(hot, rollouts) else {
      Issue.record("temperature")
      return
    }
    var invalid = F.step
    invalid.settings.stepBatchSize = 3
    guard case .settings(let problems) = error(invalid, rollouts) else {
      Issue.record("settings")
      return
    }
    #expect(problems.contains { $0.field == "ppo.step_batch_size" })
    var empty = rollouts
    empty[2].response = []
    #expect(error(F.step, empty) == .rollout(index: 2, reason: "empty response"))
    var long = rollouts
    long[1].response += [5, 6, 7, 8]
    guard case .rollout(index: 1, _) = error(F.step, long) else {
      Issue.record("long")
      return
    }
    var poisoned = rollouts
    poisoned[0].rewardModelScore = .nan
    guard case .nonFiniteGradient(optimizerStep: 0, _) = error(F.step, poisoned) else {
      Issue.record("NaN score")
      return
    }
    #expect(Array(models.policyParameters.parameters.buffer) == before)
  }

  /// The clipped policy loss and the unweighted value loss over all rollouts of `step`'s batch
  /// (its old log-probs, values, advantages and returns) at the models' current weights.
  static func losses(
    _ models: borrowing PPOModels,
    _ rollouts: [PPORollout],
    _ step: PPOStepResult
  ) throws -> (policy: Double, value: Double) {
    let window = step.batch.window
    var logProbs = [Float](repeating: 0, count: rollouts.count * window)
    var values = logProbs
    for (b, rollout) in rollouts.enumerated() {
      let L = step.batch.lengths[b]
      let tokens = rollout.query + rollout.response.prefix(L)
      let targets = Array(rollout.query.count..<tokens.count)
      let acts = try models.policy.forward(
        tokens: tokens,
        imageEmbeddings: rollout.imageEmbeddings,
        parameters: models.policyParameters
      )
      let head = try models.policy.policyHead(acts, tokens: tokens, targets: targets)
      let valueActs = try models.value.forward(
        tokens: tokens,
        imageEmbeddings: rollout.valueImageEmbeddings,
        parameters: models.valueParameters
      )
      let v = try models.value.values(
        valueActs,
        rows: targets.map { $0 - 1 },
        parameters: models.valueParameters
      )
      for t in 0..<L {
        logProbs[b * window + t] = head.logProbs[t]
        values[b * window + t] = v[t]
      }
    }
    let policy = PPOLoss.policy(
      logProbs: logProbs,
      oldLogProbs: step.batch.logProbs,
      advantages: step.prepared.advantages,
      lengths: step.batch.lengths,
      window: window,
      clipRange: 0.2,
      placement: .tokens
    )
    let value = PPOLoss.value(
      values: values,
      oldValues: step.batch.values,
      returns: step.prepared.returns,
      lengths: step.batch.lengths,
      window: window,
      clipRange: 0.2,
      coefficient: 0.1,
      placement: .tokens
    )
    return (Double(policy.loss), Double(value.unweightedLoss))
  }
}
