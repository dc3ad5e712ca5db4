// The PPO math against the torch re-implementation in tools/reference/make_ppo_math_fixtures.py
// (float64, autograd gradients): in Double to 1e-12 (measured ~4e-16), in Float to 1e-5
// (measured ~2e-7), relative to the largest magnitude of each reference array.
import Testing
import Training

private typealias Fx = TorchPPOMathFixture

private struct Case {
  var settings: PPOSettings
  var kl: [Double], shaped: [Double], advantages: [Double], returns: [Double]
  var dLogProb: [Double], dValue: [Double], dEntropy: [Double]
  var policyLoss: Double, clipFraction: Double, approxKL: Double
  var valueLoss: Double, valueClipFraction: Double, entropy: Double
}

private let paperCase = Case(
  settings: {
    var s = PPOSettings.paper
    s.responseLength = Fx.window
    return s
  }(),
  kl: Fx.Paper.kl,
  shaped: Fx.Paper.shaped,
  advantages: Fx.Paper.advantages,
  returns: Fx.Paper.returns,
  dLogProb: Fx.Paper.dLogProb,
  dValue: Fx.Paper.dValue,
  dEntropy: Fx.Paper.dEntropy,
  policyLoss: Fx.Paper.policyLoss,
  clipFraction: Fx.Paper.clipFraction,
  approxKL: Fx.Paper.approxKL,
  valueLoss: Fx.Paper.valueLoss,
  valueClipFraction: Fx.Paper.valueClipFraction,
  entropy: Fx.Paper.entropy
)

private let tokensCase = Case(
  settings: {
    var s = PPOSettings.paper
    s.responseLength = Fx.window
    s.klEstimator = .k3
    s.klCoefficient = 0.05
    s.whitenRewards = true
    s.gamma = 0.9
    s.lambda = 0.95
    s.entropyCoefficient = 0.01
    s.window = .tokens
    return s
  }(),
  kl: Fx.Tokens.kl,
  shaped: Fx.Tokens.shaped,
  advantages: Fx.Tokens.advantages,
  returns: Fx.Tokens.returns,
  dLogProb: Fx.Tokens.dLogProb,
  dValue: Fx.Tokens.dValue,
  dEntropy: Fx.Tokens.dEntropy,
  policyLoss: Fx.Tokens.policyLoss,
  clipFraction: Fx.Tokens.clipFraction,
  approxKL: Fx.Tokens.approxKL,
  valueLoss: Fx.Tokens.valueLoss,
  valueClipFraction: Fx.Tokens.valueClipFraction,
  entropy: Fx.Tokens.entropy
)

private func check<T: TrainingScalar>(_ c: Case, as type: T.Type, tolerance: Double) {
  let s = c.settings
  let w = Fx.window
  let lengths = Fx.lengths
  func v(_ x: [Double]) -> [T] { x.map { T($0) } }
  let kl = RewardShaping.kl(
    logProbs: v(Fx.oldLogProbs),
    referenceLogProbs: v(Fx.referenceLogProbs),
    lengths: lengths,
    window: w,
    estimator: s.klEstimator
  )
  #expect(relativeError(kl, c.kl) < tolerance)
  let shaped = RewardShaping.shapedRewards(
    kl: kl,
    scores: v(Fx.scores),
    lengths: lengths,
    window: w,
    klCoefficient: T(s.klCoefficient),
    placement: s.window
  )
  #expect(relativeError(shaped, c.shaped) < tolerance)
  let (advantages, returns) = Advantages.estimate(
    shapedRewards: shaped,
    values: v(Fx.oldValues),
    lengths: lengths,
    window: w,
    settings: s
  )
  #expect(relativeError(advantages, c.advantages) < tolerance)
  #expect(relativeError(returns, c.returns) < tolerance)

  let policy = PPOLoss.policy(
    logProbs: v(Fx.newLogProbs),
    oldLogProbs: v(Fx.oldLogProbs),
    advantages: advantages,
    lengths: lengths,
    window: w,
    clipRange: T(s.clipRange),
    placement: s.window
  )
  #expect(scalarError(policy.loss, c.policyLoss) < tolerance)
  #expect(relativeError(policy.dLogProb, c.dLogProb) < tolerance)
  #expect(scalarError(policy.clipFraction, c.clipFraction) < tolerance)
  #expect(scalarError(policy.approxKL, c.approxKL) < tolerance)

  let value = PPOLoss.value(
    values: v(Fx.newValues),
    oldValues: v(Fx.oldValues),
    returns: returns,
    lengths: lengths,
    window: w,
    clipRange: T(s.valueClipRange),
    coefficient: T(s.valueCoefficient),
    placement: s.window
  )
  #expect(scalarError(value.unweightedLoss, c.valueLoss) < tolerance)
  #expect(scalarError(value.loss, s.valueCoefficient * c.valueLoss) < tolerance)
  #expect(relativeError(value.dValue, c.dValue) < tolerance)
  #expect(scalarError(value.clipFraction, c.valueClipFraction) < tolerance)

  let entropy = PPOLoss.entropy(
    entropies: v(Fx.entropies),
    lengths: lengths,
    window: w,
    coefficient: T(s.entropyCoefficient),
    placement: s.window
  )
  #expect(scalarError(entropy.mean, c.entropy) < tolerance)
  if s.entropyCoefficient == 0 {
    #expect(entropy.dEntropy.allSatisfy { $0 == 0 } && c.dEntropy.allSatisfy { $0 == 0 })
  } else {
    #expect(relativeError(entropy.dEntropy, c.dEntropy) < tolerance)
  }
}

@Test func paperPPOMathMatchesTorchInDouble() {
  check(paperCase, as: Double.self, tolerance: 1e-12)
}

@Test func paperPPOMathMatchesTorchInFloat() {
  check(paperCase, as: Float.self, tolerance: 1e-5)
}

@Test func optionsPPOMathMatchesTorchInDouble() {
  check(tokensCase, as: Double.self, tolerance: 1e-12)
}

@Test func optionsPPOMathMatchesTorchInFloat() {
  check(tokensCase, as: Float.self, tolerance: 1e-5)
}

@Test func fixtureExercisesClippingAndPads() {
  // The inputs reach every branch: clipped and unclipped ratios and values, pad slots.
  #expect(Fx.Paper.clipFraction > 0 && Fx.Paper.clipFraction < 0.5)
  #expect(Fx.Paper.valueClipFraction > 0 && Fx.Paper.valueClipFraction < 0.5)
  #expect(Fx.lengths.contains { $0 < Fx.window } && Fx.lengths.contains(Fx.window))
}

@Test func rewardModelLossMatchesTorch() {
  let r = Fx.RewardModel.self
  let d = RewardModelLoss.loss(
    first: r.first,
    second: r.second,
    secondPreferred: r.secondPreferred
  )
  #expect(scalarError(d.loss, r.loss) < 1e-12)
  #expect(relativeError(d.dFirst, r.dFirst) < 1e-12)
  #expect(relativeError(d.dSecond, r.dSecond) < 1e-12)
  #expect(scalarError(d.accuracy, r.accuracy) < 1e-12)
  let f = RewardModelLoss.loss(
    first: r.first.map(Float.init),
    second: r.second.map(Float.init),
    secondPreferred: r.secondPreferred
  )
  #expect(scalarError(f.loss, r.loss) < 1e-5)
  #expect(relativeError(f.dFirst, r.dFirst) < 1e-5)
  #expect(relativeError(f.dSecond, r.dSecond) < 1e-5)
}
