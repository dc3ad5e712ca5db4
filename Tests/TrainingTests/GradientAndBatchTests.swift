// Gradients by finite differences, and micro-batches that add up to their minibatch.
import Testing
import Training

private typealias Fx = TorchPPOMathFixture

private func paperAdvantages() -> (settings: PPOSettings, advantages: [Double], returns: [Double]) {
  var s = PPOSettings.paper
  s.responseLength = Fx.window
  let kl = RewardShaping.kl(
    logProbs: Fx.oldLogProbs,
    referenceLogProbs: Fx.referenceLogProbs,
    lengths: Fx.lengths,
    window: Fx.window,
    estimator: .k1Clamped
  )
  let shaped = RewardShaping.shapedRewards(
    kl: kl,
    scores: Fx.scores,
    lengths: Fx.lengths,
    window: Fx.window,
    klCoefficient: 0.1,
    placement: .padded
  )
  let (a, r) = Advantages.estimate(
    shapedRewards: shaped,
    values: Fx.oldValues,
    lengths: Fx.lengths,
    window: Fx.window,
    settings: s
  )
  return (s, a, r)
}

@Test(arguments: [PPOWindow.padded, .tokens])
func policyAndValueGradientsMatchFiniteDifferences(placement: PPOWindow) {
  let (s, advantages, returns) = paperAdvantages()
  func policy(_ logp: [Double]) -> PolicyLossResult<Double> {
    PPOLoss.policy(
      logProbs: logp,
      oldLogProbs: Fx.oldLogProbs,
      advantages: advantages,
      lengths: Fx.lengths,
      window: Fx.window,
      clipRange: s.clipRange,
      placement: placement
    )
  }
  func value(_ v: [Double]) -> ValueLossResult<Double> {
    PPOLoss.value(
      values: v,
      oldValues: Fx.oldValues,
      returns: returns,
      lengths: Fx.lengths,
      window: Fx.window,
      clipRange: s.valueClipRange,
      coefficient: s.valueCoefficient,
      placement: placement
    )
  }
  let dLogProb = policy(Fx.newLogProbs).dLogProb
  let dValue = value(Fx.newValues).dValue
  var worst = 0.0
  for i in Fx.newLogProbs.indices {
    let fdPolicy = finiteDifference(Fx.newLogProbs, i) { policy($0).loss }
    let fdValue = finiteDifference(Fx.newValues, i) { value($0).loss }
    worst = max(worst, abs(fdPolicy - dLogProb[i]), abs(fdValue - dValue[i]))
  }
  #expect(worst < 1e-7)
  #expect(dLogProb.contains { $0 != 0 } && dValue.contains { $0 != 0 })
}

@Test func rewardModelGradientMatchesFiniteDifferences() {
  let r = Fx.RewardModel.self
  let result = RewardModelLoss.loss(
    first: r.first,
    second: r.second,
    secondPreferred: r.secondPreferred
  )
  for i in r.first.indices {
    let fdFirst = finiteDifference(r.first, i) {
      RewardModelLoss.loss(first: $0, second: r.second, secondPreferred: r.secondPreferred).loss
    }
    let fdSecond = finiteDifference(r.second, i) {
      RewardModelLoss.loss(first: r.first, second: $0, secondPreferred: r.secondPreferred).loss
    }
    #expect(abs(fdFirst - result.dFirst[i]) < 1e-8)
    #expect(abs(fdSecond - result.dSecond[i]) < 1e-8)
  }
}

@Test(arguments: [PPOWindow.padded, .tokens])
func microBatchesAddUpToTheMinibatch(placement: PPOWindow) {
  // Rows 0–2 and 3–5 as two micro-batches with the minibatch's denominator: the losses add up
  // to the whole batch's and the per-slot gradients are the same.
  let (s, advantages, returns) = paperAdvantages()
  let w = Fx.window
  let total = placement == .padded ? Fx.rows * w : Fx.lengths.reduce(0, +)
  func policy(_ rows: Range<Int>, _ denominator: Int?) -> PolicyLossResult<Double> {
    let slots = (rows.lowerBound * w)..<(rows.upperBound * w)
    return PPOLoss.policy(
      logProbs: Array(Fx.newLogProbs[slots]),
      oldLogProbs: Array(Fx.oldLogProbs[slots]),
      advantages: Array(advantages[slots]),
      lengths: Array(Fx.lengths[rows]),
      window: w,
      clipRange: s.clipRange,
      placement: placement,
      denominator: denominator
    )
  }
  func value(_ rows: Range<Int>, _ denominator: Int?) -> ValueLossResult<Double> {
    let slots = (rows.lowerBound * w)..<(rows.upperBound * w)
    return PPOLoss.value(
      values: Array(Fx.newValues[slots]),
      oldValues: Array(Fx.oldValues[slots]),
      returns: Array(returns[slots]),
      lengths: Array(Fx.lengths[rows]),
      window: w,
      clipRange: s.valueClipRange,
      coefficient: s.valueCoefficient,
      placement: placement,
      denominator: denominator
    )
  }
  let whole = policy(0..<6, nil)
  let (a, b) = (policy(0..<3, total), policy(3..<6, total))
  #expect(abs(a.loss + b.loss - whole.loss) < 1e-12)
  #expect(zip(a.dLogProb + b.dLogProb, whole.dLogProb).allSatisfy { abs($0 - $1) < 1e-15 })
  let wholeValue = value(0..<6, nil)
  let (c, d) = (value(0..<3, total), value(3..<6, total))
  #expect(abs(c.loss + d.loss - wholeValue.loss) < 1e-12)
  #expect(zip(c.dValue + d.dValue, wholeValue.dValue).allSatisfy { abs($0 - $1) < 1e-15 })
}
