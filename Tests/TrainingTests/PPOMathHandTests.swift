// The PPO math on arrays small enough to work by hand (the working is in the comments).
import Serving
import ServingTypes
import Testing
import Training

private func close(_ a: [Double], _ b: [Double], _ tolerance: Double = 1e-9) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
}

@Test func truncationAtEOSAndTheQuestionMarkRule() {
  let eos: Int32 = 2
  let marks: [Int32] = [1577, 29973]
  // Cut after the first EOS, EOS kept.
  #expect(ResponseTruncation.truncate([5, 9, 2, 7, 2], eos: eos) == .init(length: 3, hasEOS: true))
  // No EOS: everything kept, no EOS.
  #expect(ResponseTruncation.truncate([5, 9, 7], eos: eos) == .init(length: 3, hasEOS: false))
  #expect(ResponseTruncation.truncate([], eos: eos) == .init(length: 0, hasEOS: false))
  // "?" before EOS: cut after the "?", the EOS is lost (then the missing-EOS penalty applies).
  #expect(
    ResponseTruncation.truncate([5, 1577, 8, 2], eos: eos, extraStops: marks)
      == .init(length: 2, hasEOS: false)
  )
  // Both "?" tokens: the one listed last (29973) wins even though 1577 comes first.
  #expect(
    ResponseTruncation.truncate([5, 1577, 8, 29973, 2], eos: eos, extraStops: marks)
      == .init(length: 4, hasEOS: false)
  )
  // A "?" after the EOS moves the cut past it (the reference's quirk; generation stops at EOS,
  // so it does not arise from sampled responses).
  #expect(
    ResponseTruncation.truncate([5, 2, 1577], eos: eos, extraStops: marks)
      == .init(length: 3, hasEOS: true)
  )
  // The rule off: the "?" is an ordinary token.
  #expect(ResponseTruncation.truncate([5, 1577, 8, 2], eos: eos) == .init(length: 4, hasEOS: true))
}

@Test func sequenceScoreAddsTheSymbolicTerms() {
  // r = 1.5; multiple choice with answer A and a response starting "A." → c = 1, 2.0·c = 2;
  // 448 of 896 tokens with m = −0.5 → −10 · 448/896 · (−0.5) = +2.5; no EOS → −8.
  // R = 1.5 + 2 + 2.5 − 8 = −2.
  var facts = RewardFacts()
  facts.correctChoice = 0
  let r = RewardShaping.sequenceScore(
    rewardModelScore: 1.5,
    response: "A. The cat",
    truncated: .init(length: 448, hasEOS: false),
    facts: facts,
    lengthBonus: -0.5,
    settings: .paper
  )
  #expect(abs(r - -2.0) < 1e-12)
  // With EOS, m = 1, a wrong answer, bias 0.25: 1.5 + 0 − 5 + 0 + 0.25 = −3.25.
  var settings = PPOSettings.paper
  settings.rewardBias = 0.25
  let s = RewardShaping.sequenceScore(
    rewardModelScore: 1.5,
    response: "B. The dog",
    truncated: .init(length: 448, hasEOS: true),
    facts: facts,
    lengthBonus: 1,
    settings: settings
  )
  #expect(abs(s - -3.25) < 1e-12)
}

@Test func klEstimatesAreZeroAtPads() {
  // Row of window 3, length 2: logp = [−1, −2, −0.5], ref = [−1.5, −1, −0.5].
  // k1: max(0, −1 + 1.5) = 0.5, max(0, −2 + 1) = 0, pad 0.
  // k3 (log r = ref − logp): slot 0 e^−0.5 − 1 + 0.5 = 0.1065306597, slot 1 e − 2 = 0.7182818285.
  let logp = [-1.0, -2.0, -0.5]
  let ref = [-1.5, -1.0, -0.5]
  let k1 = RewardShaping.kl(
    logProbs: logp,
    referenceLogProbs: ref,
    lengths: [2],
    window: 3,
    estimator: .k1Clamped
  )
  #expect(close(k1, [0.5, 0, 0]))
  let k3 = RewardShaping.kl(
    logProbs: logp,
    referenceLogProbs: ref,
    lengths: [2],
    window: 3,
    estimator: .k3
  )
  #expect(close(k3, [0.1065306597, 0.7182818285, 0], 1e-10))
}

@Test func shapedRewardsPutTheScoreAtTheRightSlot() {
  // β = 0.1, kl = [0.5, 0, 0 | 0.2, 0.1, 0], scores [3, −1], lengths [2, 3].
  // .padded: the score at slot 2 of every row → [−0.05, 0, 3 | −0.02, −0.01, −1].
  // .tokens: at the last token → [−0.05, 3, 0 | −0.02, −0.01, −1].
  let kl = [0.5, 0, 0, 0.2, 0.1, 0]
  let padded = RewardShaping.shapedRewards(
    kl: kl,
    scores: [3, -1],
    lengths: [2, 3],
    window: 3,
    klCoefficient: 0.1,
    placement: .padded
  )
  #expect(close(padded, [-0.05, 0, 3, -0.02, -0.01, -1]))
  let tokens = RewardShaping.shapedRewards(
    kl: kl,
    scores: [3, -1],
    lengths: [2, 3],
    window: 3,
    klCoefficient: 0.1,
    placement: .tokens
  )
  #expect(close(tokens, [-0.05, 3, 0, -0.02, -0.01, -1]))
}

@Test func whiteningByHand() {
  // x = [1, 2, 3, 6]: mean 3, population var (4 + 1 + 0 + 9)/4 = 3.5, std 1.8708286934.
  let std = 3.5.squareRoot()
  let w = Advantages.whiten([1.0, 2, 3, 6])
  #expect(close(w, [-2 / std, -1 / std, 0, 3 / std], 1e-7))
  let kept = Advantages.whiten([1.0, 2, 3, 6], shiftMean: false)
  #expect(close(kept, [3 - 2 / std, 3 - 1 / std, 3, 3 + 3 / std], 1e-7))
  // Masked [1, 2, ·, 6]: mean 3, var 14/3, std 2.1602468995; the masked slot is 0.
  let m = (14.0 / 3).squareRoot()
  let masked = Advantages.whiten([1.0, 2, 3, 6], mask: [true, true, false, true])
  #expect(close(masked, [-2 / m, -1 / m, 0, 3 / m], 1e-7))
}

@Test func gaeByHand() {
  // r = [0, 0, 1], V = [0.5, 0.2, 0.4], γ = λ = 1:
  // δ₂ = 1 − 0.4 = 0.6, A₂ = 0.6; δ₁ = 0.4 − 0.2 = 0.2, A₁ = 0.8; δ₀ = 0.2 − 0.5 = −0.3, A₀ = 0.5;
  // returns = A + V = [1, 1, 1] (= the sum of future rewards when γ = λ = 1).
  let (a, r) = Advantages.gae(
    rewards: [0.0, 0, 1],
    values: [0.5, 0.2, 0.4],
    window: 3,
    gamma: 1,
    lambda: 1
  )
  #expect(close(a, [0.5, 0.8, 0.6], 1e-12))
  #expect(close(r, [1, 1, 1], 1e-12))
  // γ = λ = 0.5: δ₂ = 0.6, A₂ = 0.6; δ₁ = 0.5·0.4 − 0.2 = 0, A₁ = 0.25·0.6 = 0.15;
  // δ₀ = 0.5·0.2 − 0.5 = −0.4, A₀ = −0.4 + 0.25·0.15 = −0.3625.
  let (b, _) = Advantages.gae(
    rewards: [0.0, 0, 1],
    values: [0.5, 0.2, 0.4],
    window: 3,
    gamma: 0.5,
    lambda: 0.5
  )
  #expect(close(b, [-0.3625, 0.15, 0.6], 1e-12))
}

@Test func policyLossByHand() {
  // logp_old = 0, logp = [ln 1.5, ln 0.9], A = [1, −2], ε = 0.2:
  // slot 0: ρ 1.5, −Aρ = −1.5, −A·clip = −1.2 → −1.2 (clipped, no gradient);
  // slot 1: ρ 0.9 inside the range, both 1.8 → 1.8, ∂/∂logp = −Aρ/N = 1.8/2 = 0.9.
  // loss = (−1.2 + 1.8)/2 = 0.3; clip fraction 1/2; approx KL = ½·(ln²1.5 + ln²0.9)/2.
  let logp = [Double.log(1.5), Double.log(0.9)]
  let result = PPOLoss.policy(
    logProbs: logp,
    oldLogProbs: [0, 0],
    advantages: [1, -2],
    lengths: [2],
    window: 2,
    clipRange: 0.2,
    placement: .padded
  )
  #expect(abs(result.loss - 0.3) < 1e-12)
  #expect(close(result.dLogProb, [0, 0.9], 1e-12))
  #expect(result.clipFraction == 0.5)
  #expect(abs(result.approxKL - (logp[0] * logp[0] + logp[1] * logp[1]) / 4) < 1e-12)
  // A pad slot with A = 0.7 (its log-probs are constant 0: ρ = 1 whatever the array holds):
  // .padded counts it, −0.7, N = 3: loss (−1.2 + 1.8 − 0.7)/3, gradient 1.8/3 = 0.6, none at the pad.
  let padded = PPOLoss.policy(
    logProbs: logp + [5],
    oldLogProbs: [0, 0, -3],
    advantages: [1, -2, 0.7],
    lengths: [2],
    window: 3,
    clipRange: 0.2,
    placement: .padded
  )
  #expect(abs(padded.loss - (-0.1 / 3)) < 1e-12)
  #expect(close(padded.dLogProb, [0, 0.6, 0], 1e-12))
  let tokens = PPOLoss.policy(
    logProbs: logp + [5],
    oldLogProbs: [0, 0, -3],
    advantages: [1, -2, 0.7],
    lengths: [2],
    window: 3,
    clipRange: 0.2,
    placement: .tokens
  )
  #expect(abs(tokens.loss - 0.3) < 1e-12)
  #expect(close(tokens.dLogProb, [0, 0.9, 0], 1e-12))
}

@Test func valueLossByHand() {
  // V_old = 0, V = [0.5, 0.1], R = [1, −1], ε_V 0.2, vf_coef 0.1:
  // slot 0: clip(V) = 0.2, (0.5 − 1)² = 0.25 < (0.2 − 1)² = 0.64 → clipped, no gradient;
  // slot 1: inside the range, both 1.21 → ∂/∂V = 0.1·(0.1 + 1)/2 = 0.055.
  // unweighted = ½·(0.64 + 1.21)/2 = 0.4625, loss = 0.04625, clip fraction 1/2.
  let result = PPOLoss.value(
    values: [0.5, 0.1],
    oldValues: [0, 0],
    returns: [1, -1],
    lengths: [2],
    window: 2,
    clipRange: 0.2,
    coefficient: 0.1,
    placement: .padded
  )
  #expect(abs(result.unweightedLoss - 0.4625) < 1e-12)
  #expect(abs(result.loss - 0.04625) < 1e-12)
  #expect(close(result.dValue, [0, 0.055], 1e-12))
  #expect(result.clipFraction == 0.5)
  // Outside the range but the unclipped error is larger: V 0.5, R 0.3 → (0.2)² > (−0.1)²,
  // gradient 0.1·(0.5 − 0.3) = 0.02.
  let outside = PPOLoss.value(
    values: [0.5],
    oldValues: [0],
    returns: [0.3],
    lengths: [1],
    window: 1,
    clipRange: 0.2,
    coefficient: 0.1,
    placement: .tokens
  )
  #expect(close(outside.dValue, [0.02], 1e-12))
  // .tokens ignores the pad slot; .padded puts the value model's pad output in the loss.
  let pads = PPOLoss.value(
    values: [0.5, 0.6],
    oldValues: [0, 0.3],
    returns: [0.3, 1.3],
    lengths: [1],
    window: 2,
    clipRange: 0.2,
    coefficient: 0.1,
    placement: .padded
  )
  // slot 0: (0.5 − 0.3)² > (0.2 − 0.3)² → 0.1·0.2/2 = 0.01; the pad slot is clipped:
  // clip(0.6) = 0.5, (0.5 − 1.3)² = 0.64 > (0.6 − 1.3)² = 0.49 → no gradient.
  #expect(close(pads.dValue, [0.01, 0], 1e-12))
  let padGrad = PPOLoss.value(
    values: [0.5, 0.4],
    oldValues: [0, 0.3],
    returns: [0.3, 1.4],
    lengths: [1],
    window: 2,
    clipRange: 0.2,
    coefficient: 0.1,
    placement: .padded
  )
  #expect(close(padGrad.dValue, [0.01, -0.05], 1e-12))  // inside: 0.1·(0.4 − 1.4)/2
}

@Test func entropyBonusGradient() {
  // c_H = 0.01, H = [2, 4 | pad 1], N = 2 (.tokens): mean 3, loss −0.03, ∂/∂H = −0.005.
  let e = PPOLoss.entropy(
    entropies: [2.0, 4, 1],
    lengths: [2],
    window: 3,
    coefficient: 0.01,
    placement: .tokens
  )
  #expect(abs(e.mean - 3) < 1e-12 && abs(e.loss - -0.03) < 1e-12)
  #expect(close(e.dEntropy, [-0.005, -0.005, 0], 1e-12))
}

@Test func statisticsOfAStep() {
  // Scores [1, 3]: mean 2, population std 1; Σkl per row 0.5 and 0.5 → 0.5.
  var stats = PPOStatistics(scores: [1.0, 3], kl: [0.5, 0, 0.25, 0.25])
  #expect(stats.rewardMean == 2 && stats.rewardStd == 1 && stats.kl == 0.5)
  let policy = PolicyLossResult<Double>(loss: 1, dLogProb: [], clipFraction: 0.5, approxKL: 0.1)
  let value = ValueLossResult<Double>(loss: 0.2, unweightedLoss: 2, dValue: [], clipFraction: 0)
  let entropy = EntropyResult<Double>(mean: 3, loss: 0, dEntropy: [])
  stats.record(policy: policy, value: value, entropy: entropy)
  var second = policy
  second.loss = 3
  stats.record(policy: second, value: value, entropy: entropy)
  #expect(stats.policyLoss == 2 && stats.valueLoss == 2 && stats.clipFraction == 0.5)
  #expect(stats.optimizerSteps == 2 && stats.entropy == 3)
}
