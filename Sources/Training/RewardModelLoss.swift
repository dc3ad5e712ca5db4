// LLaVA-RLHF's reward-model loss (research/rlhf-spec.md §2; reward_model.py `compute_loss`,
// `compute_reward_modeling_metrics`), on a batch of n pairs with scores r₁ (first response) and
// r₂ (second) and y = 1 when the second is preferred (AlpacaFarm's `choice`):
//
//   z    = r₂ − r₁
//   loss = (1/n) Σ BCEWithLogits(z, y) + c·|(1/n) Σ (r₁ + r₂)|           c = 1e-3
//        = (1/n) Σ [max(z, 0) − z·y + log(1 + e^(−|z|))] + c·|mean(r₁ + r₂)|
//   ∂loss/∂r₂ = (σ(z) − y)/n + c·sign(m)/n,  ∂loss/∂r₁ = −(σ(z) − y)/n + c·sign(m)/n
//   accuracy = share of pairs with 1[z ≥ 0] = y (a tie counts as "second preferred")
//
// m = mean(r₁ + r₂); sign(0) = 0 as torch's abs. The centring term is over this batch (the
// reference: each device's micro-batch of 4, gradients averaged), so a trainer that splits a
// step into k micro-batches scales each one's gradients by 1/k, as the reference does.

public struct RewardModelLossResult<T: TrainingScalar>: Sendable, Equatable {
  public var loss: T
  /// (n) ∂loss/∂r₁ and ∂loss/∂r₂: the upstream gradients of the reward head.
  public var dFirst: [T]
  public var dSecond: [T]
  public var accuracy: T
}

public enum RewardModelLoss {
  public static func loss<T: TrainingScalar>(
    first: [T],  // (n) r₁
    second: [T],  // (n) r₂
    secondPreferred: [Bool],  // (n) y
    centeringCoefficient: T = T(1e-3)
  ) -> RewardModelLossResult<T> {
    let n = first.count
    precondition(second.count == n && secondPreferred.count == n)
    var result = RewardModelLossResult<T>(
      loss: 0,
      dFirst: [T](repeating: 0, count: n),
      dSecond: [T](repeating: 0, count: n),
      accuracy: 0
    )
    guard n > 0 else { return result }
    let count = T(n)
    var sum: T = 0
    for i in 0..<n {
      let z = second[i] - first[i]
      let y: T = secondPreferred[i] ? 1 : 0
      result.loss += max(z, 0) - z * y + T.log(1 + T.exp(-abs(z)))
      let sigmoid = z >= 0 ? 1 / (1 + T.exp(-z)) : T.exp(z) / (1 + T.exp(z))
      result.dSecond[i] = (sigmoid - y) / count
      result.dFirst[i] = -(sigmoid - y) / count
      if (z >= 0) == secondPreferred[i] { result.accuracy += 1 }
      sum += first[i] + second[i]
    }
    let mean = sum / count
    result.loss = result.loss / count + centeringCoefficient * abs(mean)
    let sign: T = mean > 0 ? 1 : (mean < 0 ? -1 : 0)
    for i in 0..<n {
      result.dFirst[i] += centeringCoefficient * sign / count
      result.dSecond[i] += centeringCoefficient * sign / count
    }
    result.accuracy /= count
    return result
  }

  /// Pairwise accuracy alone (held-out evaluation).
  public static func accuracy<T: TrainingScalar>(
    first: [T],
    second: [T],
    secondPreferred: [Bool]
  ) -> Double {
    precondition(second.count == first.count && secondPreferred.count == first.count)
    guard !first.isEmpty else { return 0 }
    let right = first.indices.filter { (second[$0] - first[$0] >= 0) == secondPreferred[$0] }
    return Double(right.count) / Double(first.count)
  }
}
