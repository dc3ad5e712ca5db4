// Step 9 of a PPO step (research/rlhf-spec.md §3; ppo_trainer.py `compute_policy_loss`,
// `compute_value_loss`): the clipped losses of one (micro-)batch of rollouts and their gradients
// per slot — the upstream gradients of the model-level backward.
//
//   ρ_t      = exp(logp_t − logp_old_t)
//   policy   = (1/N) Σ_t max(−A_t·ρ_t, −A_t·clip(ρ_t, 1 − ε, 1 + ε))             ε = 0.2
//   value    = vf_coef · 0.5 · (1/N) Σ_t max((V_t − R_t)², (clip(V_t, V_old ± ε_V) − R_t)²)
//   entropy  = −c_H · (1/N) Σ_t H_t                                  (c_H = 0 in the paper)
//
// Alignment: slot t is the position that predicts response token t (the hidden state of the
// token before it), for log-probs, entropies and values alike (rl_models.py slices
// `[:, -response_len - 1 : -1]` for all three): dLogProb[t], dEntropy[t] and dValue[t] are the
// upstream gradients at that position.
//
// Normalisation: N is the number of counted slots of the whole optimizer minibatch, given as
// `denominator` when this call is one micro-batch of it (default: the counted slots of these
// rows), so micro-batch gradients add up to the minibatch's. Counted slots: every slot of the
// window in the paper's `.padded` window (pads dilute the mean), response tokens in `.tokens`.
// At a pad slot the policy's log-prob is a constant 0 on both sides (ignore_index), so ρ = 1
// there whatever the arrays hold, and dLogProb is 0. The value model's outputs at pad slots are
// real outputs in `.padded` (the reference runs the value model over the padded window) and get
// gradients; in `.tokens` they get none. The policy and value losses are separate backward
// passes into separate LoRA sets, as in the reference.

/// The policy loss of a batch and dLoss/dLogProb per slot.
public struct PolicyLossResult<T: TrainingScalar>: Sendable, Equatable {
  public var loss: T
  /// (rows, window) ∂policy/∂logp_t: −A_t·ρ_t / N where the unclipped term is the max, else 0.
  public var dLogProb: [T]
  /// Share of counted slots where the clipped term is strictly larger (`pg_clipfrac`).
  public var clipFraction: T
  /// ½ · mean (logp − logp_old)² over counted slots (`approxkl`).
  public var approxKL: T

  public init(loss: T, dLogProb: [T], clipFraction: T, approxKL: T) {
    self.loss = loss
    self.dLogProb = dLogProb
    self.clipFraction = clipFraction
    self.approxKL = approxKL
  }
}

/// The value loss (times vf_coef) of a batch and its gradient per slot.
public struct ValueLossResult<T: TrainingScalar>: Sendable, Equatable {
  /// vf_coef · 0.5 · mean max(…) — the term back-propagated.
  public var loss: T
  /// The unweighted 0.5 · mean max(…) (`loss/value`, logged).
  public var unweightedLoss: T
  /// (rows, window) ∂(vf_coef·value)/∂V_t.
  public var dValue: [T]
  public var clipFraction: T

  public init(loss: T, unweightedLoss: T, dValue: [T], clipFraction: T) {
    self.loss = loss
    self.unweightedLoss = unweightedLoss
    self.dValue = dValue
    self.clipFraction = clipFraction
  }
}

/// The entropy term and its gradient per slot.
public struct EntropyResult<T: TrainingScalar>: Sendable, Equatable {
  /// Mean entropy over counted slots (logged).
  public var mean: T
  /// −c_H · mean, the bonus added to the loss (0 in the paper).
  public var loss: T
  /// (rows, window) ∂loss/∂H_t = −c_H / N at counted slots.
  public var dEntropy: [T]

  public init(mean: T, loss: T, dEntropy: [T]) {
    self.mean = mean
    self.loss = loss
    self.dEntropy = dEntropy
  }
}

public enum PPOLoss {
  /// The counted slots (rows × window) and their number.
  static func counted(lengths: [Int], window: Int, placement: PPOWindow) -> ([Bool], Int) {
    switch placement {
    case .padded: ([Bool](repeating: true, count: lengths.count * window), lengths.count * window)
    case .tokens:
      (
        Advantages.tokenMask(lengths: lengths, window: window),
        lengths.reduce(0) { $0 + min($1, window) }
      )
    }
  }

  public static func policy<T: TrainingScalar>(
    logProbs: [T],  // (rows, window) under the policy being trained
    oldLogProbs: [T],  // (rows, window) at rollout time
    advantages: [T],  // (rows, window) whitened
    lengths: [Int],  // (rows)
    window: Int,
    clipRange: T,
    placement: PPOWindow,
    denominator: Int? = nil
  ) -> PolicyLossResult<T> {
    precondition(logProbs.count == lengths.count * window)
    precondition(oldLogProbs.count == logProbs.count && advantages.count == logProbs.count)
    let (mask, count) = counted(lengths: lengths, window: window, placement: placement)
    let n = T(denominator ?? count)
    var result = PolicyLossResult<T>(
      loss: 0,
      dLogProb: [T](repeating: 0, count: logProbs.count),
      clipFraction: 0,
      approxKL: 0
    )
    guard n > 0 else { return result }
    for (row, length) in lengths.enumerated() {
      for t in 0..<window where mask[row * window + t] {
        let i = row * window + t
        let token = t < length
        let logRatio = token ? logProbs[i] - oldLogProbs[i] : 0
        let ratio = T.exp(logRatio)
        let a = advantages[i]
        let unclipped = -a * ratio
        let clipped = -a * min(max(ratio, 1 - clipRange), 1 + clipRange)
        result.loss += max(unclipped, clipped)
        if clipped > unclipped { result.clipFraction += 1 }
        if token && unclipped >= clipped { result.dLogProb[i] = unclipped / n }
        result.approxKL += logRatio * logRatio
      }
    }
    result.loss /= n
    result.clipFraction /= n
    result.approxKL = result.approxKL / (2 * n)
    return result
  }

  public static func value<T: TrainingScalar>(
    values: [T],  // (rows, window) under the value model being trained
    oldValues: [T],  // (rows, window) at rollout time
    returns: [T],  // (rows, window)
    lengths: [Int],  // (rows)
    window: Int,
    clipRange: T,
    coefficient: T,
    placement: PPOWindow,
    denominator: Int? = nil
  ) -> ValueLossResult<T> {
    precondition(values.count == lengths.count * window)
    precondition(oldValues.count == values.count && returns.count == values.count)
    let (mask, count) = counted(lengths: lengths, window: window, placement: placement)
    let n = T(denominator ?? count)
    var result = ValueLossResult<T>(
      loss: 0,
      unweightedLoss: 0,
      dValue: [T](repeating: 0, count: values.count),
      clipFraction: 0
    )
    guard n > 0 else { return result }
    for i in values.indices where mask[i] {
      let v = values[i]
      let vClipped = min(max(v, oldValues[i] - clipRange), oldValues[i] + clipRange)
      let l1 = (v - returns[i]) * (v - returns[i])
      let l2 = (vClipped - returns[i]) * (vClipped - returns[i])
      result.unweightedLoss += max(l1, l2)
      if l2 > l1 {
        result.clipFraction += 1
      } else {
        // ∂(½ l1)/∂v; when l1 = l2 inside the clip range both terms have this gradient.
        result.dValue[i] = coefficient * (v - returns[i]) / n
      }
    }
    result.unweightedLoss = result.unweightedLoss / (2 * n)
    result.loss = coefficient * result.unweightedLoss
    result.clipFraction /= n
    return result
  }

  public static func entropy<T: TrainingScalar>(
    entropies: [T],  // (rows, window) per-slot entropy of the policy's distribution
    lengths: [Int],  // (rows)
    window: Int,
    coefficient: T,
    placement: PPOWindow,
    denominator: Int? = nil
  ) -> EntropyResult<T> {
    precondition(entropies.count == lengths.count * window)
    let (mask, count) = counted(lengths: lengths, window: window, placement: placement)
    let n = T(denominator ?? count)
    var result = EntropyResult<T>(
      mean: 0,
      loss: 0,
      dEntropy: [T](repeating: 0, count: entropies.count)
    )
    guard n > 0 else { return result }
    for i in entropies.indices where mask[i] {
      result.mean += entropies[i]
      result.dEntropy[i] = -coefficient / n
    }
    result.mean /= n
    result.loss = -coefficient * result.mean
    return result
  }
}
