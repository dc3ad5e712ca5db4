// The rollout side of a PPO step (research/rlhf-spec.md §3, steps 2–6): truncation, the
// sequence scores, and the per-slot log-probs of the policy and the reference and the values,
// all from the training forward without dropout (the update's precision: the ratio starts at 1).
//
// Alignment (rl_models.py slices `[:, -response_len - 1 : -1]`): the sequence is query + kept
// response, Q + L tokens at positions 0 ..< Q + L; response token t sits at position Q + t and is
// predicted by row Q + t − 1, which gives slot t's log-prob, entropy and value.
import Engine
import Models

/// One rollout ready to be trained on.
struct PPOStepRow {
  /// query + kept response.
  let tokens: [Int32]
  let queryLength: Int
  /// Kept response tokens L (≥ 1).
  let length: Int
  let imageEmbeddings: [Float]?
  let valueImageEmbeddings: [Float]?
  let hasEOS: Bool
  let score: Double

  /// The positions of the response tokens (policy-head targets).
  var targets: [Int] { Array(queryLength..<(queryLength + length)) }
  /// The rows that predict them (value rows).
  var valueRows: [Int] { Array((queryLength - 1)..<(queryLength + length - 1)) }
}

extension PPOStep {
  /// Step 2 and the scores of steps 3–6: truncation and R per rollout.
  func prepareRows(
    _ rollouts: [PPORollout],
    models: borrowing PPOModels,
    decode: ([Int32]) -> String
  ) throws(PPOStepError) -> [PPOStepRow] {
    guard !rollouts.isEmpty else { throw .rollout(index: 0, reason: "no rollouts") }
    var rows: [PPOStepRow] = []
    for (i, rollout) in rollouts.enumerated() {
      guard !rollout.query.isEmpty else { throw .rollout(index: i, reason: "empty query") }
      guard !rollout.response.isEmpty else { throw .rollout(index: i, reason: "empty response") }
      guard rollout.response.count <= settings.responseLength else {
        throw .rollout(
          index: i,
          reason:
            "\(rollout.response.count) response tokens > response_length \(settings.responseLength)"
        )
      }
      let truncated = ResponseTruncation.truncate(
        rollout.response,
        eos: eos,
        extraStops: settings.extraStopTokenIds
      )
      let kept = Array(rollout.response[..<truncated.length])
      let score = RewardShaping.sequenceScore(
        rewardModelScore: rollout.rewardModelScore,
        response: decode(kept),
        truncated: truncated,
        facts: rollout.facts,
        lengthBonus: rollout.lengthBonus,
        settings: settings
      )
      rows.append(
        PPOStepRow(
          tokens: rollout.query + kept,
          queryLength: rollout.query.count,
          length: truncated.length,
          imageEmbeddings: rollout.imageEmbeddings,
          valueImageEmbeddings: rollout.valueImageEmbeddings ?? rollout.imageEmbeddings,
          hasEOS: truncated.hasEOS,
          score: score
        )
      )
    }
    return rows
  }

  /// Step 5: old log-probs (the policy as it is now), reference log-probs and values per slot.
  func rolloutBatch(
    _ rows: [PPOStepRow],
    models: borrowing PPOModels,
    yielding: TrainingYield?
  ) throws(PPOStepError) -> RolloutBatch<Float> {
    let window = settings.responseLength
    var batch = RolloutBatch<Float>(
      window: window,
      lengths: rows.map(\.length),
      logProbs: [Float](repeating: 0, count: rows.count * window),
      referenceLogProbs: [Float](repeating: 0, count: rows.count * window),
      values: [Float](repeating: 0, count: rows.count * window),
      scores: rows.map { Float($0.score) }
    )
    for (b, row) in rows.enumerated() {
      try yieldPoint(yielding)
      let old = try Self.logProbs(row, model: models.policy, parameters: models.policyParameters)
      let reference = try Self.logProbs(
        row,
        model: models.reference,
        parameters: models.referenceParameters
      )
      let values = try Self.values(row, model: models.value, parameters: models.valueParameters)
      for t in 0..<row.length {
        batch.logProbs[b * window + t] = old.logProbs[t]
        batch.referenceLogProbs[b * window + t] = reference.logProbs[t]
        batch.values[b * window + t] = values[t]
      }
    }
    return batch
  }

  /// The log-probs (and entropies) of row's response tokens under `parameters`, no dropout.
  static func logProbs(
    _ row: PPOStepRow,
    model: DecoderTraining,
    parameters: borrowing TrainableParameters
  ) throws(PPOStepError) -> PolicyHeadOutput {
    do {
      let acts = try model.forward(
        tokens: row.tokens,
        imageEmbeddings: row.imageEmbeddings,
        imageRowsEnd: row.queryLength,
        parameters: parameters
      )
      return try model.policyHead(acts, tokens: row.tokens, targets: row.targets)
    } catch {
      throw .model(error)
    }
  }

  /// The value model's outputs at row's slots, no dropout.
  static func values(
    _ row: PPOStepRow,
    model: DecoderTraining,
    parameters: borrowing TrainableParameters
  ) throws(PPOStepError) -> [Float] {
    do {
      let acts = try model.forward(
        tokens: row.tokens,
        imageEmbeddings: row.valueImageEmbeddings,
        imageRowsEnd: row.queryLength,
        parameters: parameters
      )
      return try model.values(acts, rows: row.valueRows, parameters: parameters)
    } catch {
      throw .model(error)
    }
  }
}
