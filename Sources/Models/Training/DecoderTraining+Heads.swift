import Checkpoints
// The heads a PPO / reward-model trainer needs, each with its backward into the gradient of the
// final hidden states h = `acts.lnf` `(T, C)` (then `backward(_:dHidden:parameters:)`).
//
// Policy: the log-probability of token tokens[p] at each target position p (1 ≤ p < T) under the
// logits the position before predicts, z = h[p − 1] · W_lmᵀ (the LM head, frozen), and the
// entropy of that distribution: with ℓ = log_softmax(z), P = exp ℓ, H = −Σ P ℓ,
//   ∂logProb/∂z_j = δ_j,token − P_j,   ∂H/∂z_j = −P_j (ℓ_j + H),
// so dz = dLogProb · (onehot − P) − dEntropy · P ⊙ (ℓ + H), and dh[p − 1] += dz · W_lm.
//
// Value / reward: `value_i = w · h[row_i] (+ b)` on the given rows (a value per response token:
// the rows before the tokens, as for the log-probs; a reward: the last row, T − 1), w `(1, C)`
// trainable (a `TrainableParameters` segment): dw += Σ dValue_i h[row_i], db += Σ dValue_i,
// dh[row_i] += dValue_i · w.
public import Engine
import Glibc

/// Log-probabilities and entropies at the target positions, and what their backward needs.
public struct PolicyHeadOutput: Sendable {
  /// The positions p whose tokens were scored (predicted from row p − 1).
  public let targets: [Int]
  /// `log P(tokens[p] | tokens[..< p])` per target.
  public let logProbs: [Float]
  /// The entropy (nats) of the distribution at each target.
  public let entropies: [Float]
  let tokens: [Int32]
  /// `(n, V)` the log-softmax of each target's logits.
  let logSoftmax: [Float]
}

extension DecoderTraining {
  /// Scores `tokens[p]` for each `p` in `targets` (1 ≤ p < T; text tokens only).
  public func policyHead(
    _ acts: borrowing TrainingActivations,
    tokens: [Int32],
    targets: [Int]
  ) throws(ModelError) -> PolicyHeadOutput {
    let (C, V, T, n) = (config.hiddenSize, config.vocabSize, acts.T, targets.count)
    guard tokens.count == T else { throw .training("\(tokens.count) tokens for a pass of \(T)") }
    guard let head = parameters.lmHead else { throw .training("no LM head (a reward model)") }
    for p in targets where p < 1 || p >= T || !(0..<Int32(V)).contains(tokens[p]) {
      throw .training("target position \(p) is not a text token in 1 ..< \(T)")
    }
    var rows = [Float](repeating: 0, count: n * C)  // (n, C) h[p − 1]
    for (i, p) in targets.enumerated() {
      for c in 0..<C { rows[i * C + c] = acts.lnf[(p - 1) * C + c] }
    }
    var logits = [Float](repeating: 0, count: n * V)  // (n, V), then ℓ in place
    logits.withUnsafeMutableBufferPointer { z in
      rows.withUnsafeBufferPointer {
        Matmul.forward(
          out: z.baseAddress!,
          in: $0.baseAddress!,
          weight: head,
          bias: nil,
          M: n,
          N: V,
          K: C
        )
      }
    }
    var (logProbs, entropies) = ([Float](repeating: 0, count: n), [Float](repeating: 0, count: n))
    for i in 0..<n {
      entropies[i] = Self.logSoftmax(&logits, row: i, V: V)
      logProbs[i] = logits[i * V + Int(tokens[targets[i]])]
    }
    return PolicyHeadOutput(
      targets: targets,
      logProbs: logProbs,
      entropies: entropies,
      tokens: targets.map { tokens[$0] },
      logSoftmax: logits
    )
  }

  /// Row `i` of `z (n, V)` becomes its log-softmax (max subtracted, the sum in Double);
  /// returns the entropy.
  static func logSoftmax(_ z: inout [Float], row i: Int, V: Int) -> Float {
    var maximum = -Float.infinity
    for j in 0..<V { maximum = max(maximum, z[i * V + j]) }
    var sum = 0.0
    for j in 0..<V { sum += Double(expf(z[i * V + j] - maximum)) }
    let lse = maximum + Float(log(sum))
    var entropy = 0.0
    for j in 0..<V {
      let l = z[i * V + j] - lse
      z[i * V + j] = l
      entropy -= Double(expf(l)) * Double(l)
    }
    return Float(entropy)
  }

  /// `dHidden (T, C)` for upstream gradients `dLogProb`, `dEntropy` (one per target).
  public func policyHeadBackward(
    _ acts: borrowing TrainingActivations,
    head out: PolicyHeadOutput,
    dLogProb: [Float],
    dEntropy: [Float]
  ) throws(ModelError) -> [Float] {
    let (C, V, T, n) = (config.hiddenSize, config.vocabSize, acts.T, out.targets.count)
    guard dLogProb.count == n, dEntropy.count == n else {
      throw .training("\(dLogProb.count) / \(dEntropy.count) upstream gradients for \(n) targets")
    }
    guard let head = parameters.lmHead else { throw .training("no LM head (a reward model)") }
    var dz = [Float](repeating: 0, count: n * V)  // (n, V)
    for i in 0..<n {
      let (g, e, H) = (dLogProb[i], dEntropy[i], out.entropies[i])
      for j in 0..<V {
        let l = out.logSoftmax[i * V + j]
        let p = expf(l)
        dz[i * V + j] = -g * p - e * p * (l + H)
      }
      dz[i * V + Int(out.tokens[i])] += g
    }
    var dRows = [Float](repeating: 0, count: n * C)  // (n, C)
    dRows.withUnsafeMutableBufferPointer { dh in
      dz.withUnsafeBufferPointer {
        Matmul.backwardInput(
          dIn: dh.baseAddress!,
          dOut: $0.baseAddress!,
          weight: head,
          M: n,
          N: V,
          K: C
        )
      }
    }
    var dHidden = [Float](repeating: 0, count: T * C)
    for (i, p) in out.targets.enumerated() {
      for c in 0..<C { dHidden[(p - 1) * C + c] += dRows[i * C + c] }
    }
    return dHidden
  }

  /// The score head on `rows` of the final hidden states: one value each.
  public func values(
    _ acts: borrowing TrainingActivations,
    rows: [Int],
    parameters set: borrowing TrainableParameters
  ) throws(ModelError) -> [Float] {
    let (C, T) = (config.hiddenSize, acts.T)
    guard let w = trainables.head else { throw .training("no trainable score head") }
    for row in rows where row < 0 || row >= T {
      throw .training("value row \(row) is outside 0 ..< \(T)")
    }
    let (weight, bias) = (set.parameters(w), trainables.headBias.map { set.parameters($0)[0] } ?? 0)
    return rows.map { row in
      var sum = 0.0
      for c in 0..<C { sum += Double(weight[c]) * Double(acts.lnf[row * C + c]) }
      return Float(sum) + bias
    }
  }

  /// Adds the head's gradients (weight, bias) to `set` and returns `dHidden (T, C)` for the
  /// upstream gradients `dValue` (one per row).
  public func valuesBackward(
    _ acts: borrowing TrainingActivations,
    rows: [Int],
    dValue: [Float],
    parameters set: borrowing TrainableParameters
  ) throws(ModelError) -> [Float] {
    let (C, T) = (config.hiddenSize, acts.T)
    guard let w = trainables.head else { throw .training("no trainable score head") }
    guard dValue.count == rows.count else {
      throw .training("\(dValue.count) upstream gradients for \(rows.count) values")
    }
    for row in rows where row < 0 || row >= T {
      throw .training("value row \(row) is outside 0 ..< \(T)")
    }
    let (weight, dWeight) = (set.parameters(w), set.gradients(w))
    var dHidden = [Float](repeating: 0, count: T * C)
    for (i, row) in rows.enumerated() {
      let g = dValue[i]
      for c in 0..<C {
        dWeight[c] += g * acts.lnf[row * C + c]
        dHidden[row * C + c] += g * weight[c]
      }
      if let b = trainables.headBias { set.gradients(b)[0] += g }
    }
    return dHidden
  }
}
