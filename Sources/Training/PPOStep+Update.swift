// Step 9 of a PPO step (research/rlhf-spec.md §3; rl_trainer.py `step_with_rollouts`): one
// optimizer step over a minibatch of rollouts. Per micro-batch and sequence: the policy forward
// (dropout on), the clipped policy loss (and the entropy term) → dLogProb, dEntropy → the policy
// backward; the value forward, the clipped value loss × vf_coef → dValue → the value backward
// (two backward passes into two LoRA sets, as the reference). Losses are averaged over the
// whole minibatch's counted slots (`denominator:`), so micro-batch gradients add up. Then the
// gradient norm over policy and value together is clipped, and one AdamW update runs on both
// sets at the PPO step's learning rate.
import Engine
import Models

/// Sums of a minibatch's per-sequence loss results (each already divided by the minibatch's N).
struct PPOLossSums {
  var policy = PolicyLossResult<Float>(loss: 0, dLogProb: [], clipFraction: 0, approxKL: 0)
  var value = ValueLossResult<Float>(loss: 0, unweightedLoss: 0, dValue: [], clipFraction: 0)
  var entropy = EntropyResult<Float>(mean: 0, loss: 0, dEntropy: [])
  var maxRatioDeviation = 0.0
  var times = TrainingStepTimes()
}

extension PPOStep {
  func optimizerStep(
    _ minibatch: [Int],
    index optimizerStep: Int,
    rows: [PPOStepRow],
    batch: RolloutBatch<Float>,
    prepared: PreparedRollouts<Float>,
    models: inout PPOModels,
    learningRate: Float,
    dropoutSeed: UInt64,
    statistics: inout PPOStatistics,
    yielding: TrainingYield?,
    times: inout TrainingStepTimes
  ) throws(PPOStepError) -> PPOOptimizerStepRecord {
    // Counted slots of the `.tokens` window: the minibatch's response tokens.
    let denominator = minibatch.reduce(0) { $0 + rows[$1].length }
    models.policyParameters.zeroGradients()
    models.valueParameters.zeroGradients()
    var sums = PPOLossSums()
    let micro = max(1, settings.microBatchSize)
    for start in stride(from: 0, to: minibatch.count, by: micro) {
      try yieldPoint(yielding)
      for b in minibatch[start..<min(start + micro, minibatch.count)] {
        let rowSeed = (dropoutSeed &* 0x2545_F491_4F6C_DD1D) &+ UInt64(b) &* 2
        try policyBackward(
          b,
          rows: rows,
          batch: batch,
          prepared: prepared,
          models: models,
          denominator: denominator,
          dropoutSeed: rowSeed,
          sums: &sums
        )
        try valueBackward(
          b,
          rows: rows,
          batch: batch,
          prepared: prepared,
          models: models,
          denominator: denominator,
          dropoutSeed: rowSeed &+ 1,
          sums: &sums
        )
      }
    }
    let optimizerStarted = TrainingStepTimes.now()
    let gradients = [
      models.policyParameters.gradients.buffer, models.valueParameters.gradients.buffer,
    ]
    let norm: Double
    if let maxNorm = optimizer.maxGradNorm {
      norm = Double(GradientClipping.clip(gradients, maxNorm: maxNorm))
    } else {
      norm = GradientClipping.norm(gradients.map { UnsafeBufferPointer($0) })
    }
    guard norm.isFinite else {
      throw .nonFiniteGradient(optimizerStep: optimizerStep, norm: norm)
    }
    models.policyParameters.update(optimizer.adamW, learningRate: learningRate)
    models.valueParameters.update(optimizer.adamW, learningRate: learningRate)
    times.forward += sums.times.forward
    times.backward += sums.times.backward
    times.optimizer += TrainingStepTimes.now() - optimizerStarted
    statistics.record(policy: sums.policy, value: sums.value, entropy: sums.entropy)
    return PPOOptimizerStepRecord(
      rows: minibatch,
      policyLoss: Double(sums.policy.loss),
      valueLoss: Double(sums.value.unweightedLoss),
      clipFraction: Double(sums.policy.clipFraction),
      valueClipFraction: Double(sums.value.clipFraction),
      maxRatioDeviation: sums.maxRatioDeviation,
      gradientNorm: norm,
      learningRate: learningRate
    )
  }

  /// Row b's policy loss (and entropy term) and their gradients into the policy's LoRA.
  func policyBackward(
    _ b: Int,
    rows: [PPOStepRow],
    batch: RolloutBatch<Float>,
    prepared: PreparedRollouts<Float>,
    models: borrowing PPOModels,
    denominator: Int,
    dropoutSeed: UInt64,
    sums: inout PPOLossSums
  ) throws(PPOStepError) {
    let (row, window, L) = (rows[b], batch.window, rows[b].length)
    let slots = (b * window)..<((b + 1) * window)
    do {
      let started = TrainingStepTimes.now()
      let acts = try models.policy.forward(
        tokens: row.tokens,
        imageEmbeddings: row.imageEmbeddings,
        imageRowsEnd: row.queryLength,
        parameters: models.policyParameters,
        dropoutSeed: dropoutSeed
      )
      let head = try models.policy.policyHead(acts, tokens: row.tokens, targets: row.targets)
      var (logProbs, entropies) = (
        [Float](repeating: 0, count: window), [Float](repeating: 0, count: window)
      )
      for t in 0..<L {
        logProbs[t] = head.logProbs[t]
        entropies[t] = head.entropies[t]
        let ratio = Float.exp(logProbs[t] - batch.logProbs[slots.lowerBound + t])
        sums.maxRatioDeviation = max(sums.maxRatioDeviation, Double(abs(ratio - 1)))
      }
      let policy = PPOLoss.policy(
        logProbs: logProbs,
        oldLogProbs: Array(batch.logProbs[slots]),
        advantages: Array(prepared.advantages[slots]),
        lengths: [L],
        window: window,
        clipRange: Float(settings.clipRange),
        placement: settings.window,
        denominator: denominator
      )
      let entropy = PPOLoss.entropy(
        entropies: entropies,
        lengths: [L],
        window: window,
        coefficient: Float(settings.entropyCoefficient),
        placement: settings.window,
        denominator: denominator
      )
      sums.policy.loss += policy.loss
      sums.policy.clipFraction += policy.clipFraction
      sums.policy.approxKL += policy.approxKL
      sums.entropy.mean += entropy.mean
      sums.entropy.loss += entropy.loss
      let backwardStarted = TrainingStepTimes.now()
      sums.times.forward += backwardStarted - started
      let dHidden = try models.policy.policyHeadBackward(
        acts,
        head: head,
        dLogProb: Array(policy.dLogProb[..<L]),
        dEntropy: Array(entropy.dEntropy[..<L])
      )
      models.policy.backward(acts, dHidden: dHidden, parameters: models.policyParameters)
      sums.times.backward += TrainingStepTimes.now() - backwardStarted
    } catch {
      throw .model(error)
    }
  }

  /// Row b's vf_coef · value loss and its gradients into the value LoRA and head.
  func valueBackward(
    _ b: Int,
    rows: [PPOStepRow],
    batch: RolloutBatch<Float>,
    prepared: PreparedRollouts<Float>,
    models: borrowing PPOModels,
    denominator: Int,
    dropoutSeed: UInt64,
    sums: inout PPOLossSums
  ) throws(PPOStepError) {
    let (row, window, L) = (rows[b], batch.window, rows[b].length)
    let slots = (b * window)..<((b + 1) * window)
    do {
      let started = TrainingStepTimes.now()
      let acts = try models.value.forward(
        tokens: row.tokens,
        imageEmbeddings: row.valueImageEmbeddings,
        imageRowsEnd: row.queryLength,
        parameters: models.valueParameters,
        dropoutSeed: dropoutSeed
      )
      let current = try models.value.values(
        acts,
        rows: row.valueRows,
        parameters: models.valueParameters
      )
      var values = [Float](repeating: 0, count: window)
      for t in 0..<L { values[t] = current[t] }
      let value = PPOLoss.value(
        values: values,
        oldValues: Array(batch.values[slots]),
        returns: Array(prepared.returns[slots]),
        lengths: [L],
        window: window,
        clipRange: Float(settings.valueClipRange),
        coefficient: Float(settings.valueCoefficient),
        placement: settings.window,
        denominator: denominator
      )
      sums.value.loss += value.loss
      sums.value.unweightedLoss += value.unweightedLoss
      sums.value.clipFraction += value.clipFraction
      let backwardStarted = TrainingStepTimes.now()
      sums.times.forward += backwardStarted - started
      let dHidden = try models.value.valuesBackward(
        acts,
        rows: row.valueRows,
        dValue: Array(value.dValue[..<L]),
        parameters: models.valueParameters
      )
      models.value.backward(acts, dHidden: dHidden, parameters: models.valueParameters)
      sums.times.backward += TrainingStepTimes.now() - backwardStarted
    } catch {
      throw .model(error)
    }
  }
}
