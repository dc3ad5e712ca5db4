// Steps 4–7 of a PPO step (research/rlhf-spec.md §3; ppo_trainer.py `post_reward`,
// `_shape_reward`): the sequence score R and the shaped per-token rewards.
//
//   R   = r_RM + no_eos·1[no EOS] + length·(L / response_len)·m + correctness·c + bias
//   kl_t = max(0, logp_t − logp_ref_t)                        (k1 clamped; k3 as an option)
//   s_t = −β·kl_t,  plus R at the score slot                  (β = kl_coef = 0.1)
//
// The score slot is the window's last slot (T − 1) in the paper's `.padded` window, the last
// response token (L − 1) in `.tokens`. Arrays are rows × window, row-major; row b's response
// tokens are slots 0 ..< lengths[b], the rest pad. KL is 0 at pad slots (the reference's
// log-probs are 0 there on both sides). The ×10 scaling (or whitening) is applied later, in
// `Advantages.estimate`, to the whole shaped reward, the KL part included.
import Serving
public import ServingTypes

public enum RewardShaping {
  /// The sequence score R from the reward model's score and the weighted symbolic terms of
  /// `SymbolicRewards.terms` (its length term is weighted by tokens / response_len, and is
  /// multiplied here by the prompt's `length_bonus` m).
  public static func sequenceScore(
    rewardModelScore: Double,
    terms: (correctness: Float, length: Float, eos: Float),
    lengthBonus: Double,
    bias: Double
  ) -> Double {
    rewardModelScore + Double(terms.eos) + Double(terms.length) * lengthBonus
      + Double(terms.correctness) + bias
  }

  /// The sequence score of one truncated rollout: `response` is its decoded kept text (special
  /// tokens skipped), `facts` the prompt's facts, `lengthBonus` the prompt's m.
  public static func sequenceScore(
    rewardModelScore: Double,
    response: String,
    truncated: TruncatedResponse,
    facts: RewardFacts?,
    lengthBonus: Double,
    settings: PPOSettings
  ) -> Double {
    let terms = SymbolicRewards.terms(
      response,
      tokens: truncated.length,
      endedWithEOS: truncated.hasEOS,
      facts: facts,
      weights: settings.rewardWeights
    )
    return sequenceScore(
      rewardModelScore: rewardModelScore,
      terms: terms,
      lengthBonus: lengthBonus,
      bias: settings.rewardBias
    )
  }

  /// Per-slot KL estimates (rows × window), 0 at pad slots.
  public static func kl<T: TrainingScalar>(
    logProbs: [T],  // (rows, window) policy log-probs at rollout time
    referenceLogProbs: [T],  // (rows, window)
    lengths: [Int],  // (rows)
    window: Int,
    estimator: KLEstimator
  ) -> [T] {
    precondition(
      logProbs.count == lengths.count * window && referenceLogProbs.count == logProbs.count
    )
    var out = [T](repeating: 0, count: logProbs.count)
    for (row, length) in lengths.enumerated() {
      for t in 0..<min(length, window) {
        let i = row * window + t
        switch estimator {
        case .k1Clamped:
          out[i] = max(0, logProbs[i] - referenceLogProbs[i])
        case .k3:
          let logRatio = referenceLogProbs[i] - logProbs[i]
          out[i] = T.exp(logRatio) - 1 - logRatio
        }
      }
    }
    return out
  }

  /// The slot that receives row b's sequence score.
  public static func scoreSlot(length: Int, window: Int, placement: PPOWindow) -> Int {
    switch placement {
    case .padded: window - 1
    case .tokens: max(0, min(length, window) - 1)
    }
  }

  /// Shaped per-token rewards s (rows × window): −β·kl, plus `scores[b]` at row b's score slot.
  public static func shapedRewards<T: TrainingScalar>(
    kl: [T],  // (rows, window)
    scores: [T],  // (rows)
    lengths: [Int],  // (rows)
    window: Int,
    klCoefficient: T,
    placement: PPOWindow
  ) -> [T] {
    precondition(kl.count == scores.count * window && lengths.count == scores.count)
    var out = kl.map { -klCoefficient * $0 }
    for row in scores.indices {
      out[row * window + scoreSlot(length: lengths[row], window: window, placement: placement)] +=
        scores[row]
    }
    return out
  }
}
