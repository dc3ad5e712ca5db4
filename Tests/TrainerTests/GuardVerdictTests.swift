import Testing
import Training

@testable import Trainer

@Suite struct GuardVerdictTests {
  let settings = GuardSettings(maxHeldOutRewardDrop: 0.5, maxKLToReference: 4, autoPromote: true)

  @Test func passesWithinBothLimits() {
    let v = GuardVerdict.evaluate(kl: 3.9, heldOutReward: 1.6, baseline: 2.0, settings: settings)
    #expect(v.passed)
    #expect(v.reason.hasPrefix("guard passed"))
  }

  @Test func failsOnKLOverTheCeiling() {
    let v = GuardVerdict.evaluate(kl: 4.01, heldOutReward: 3, baseline: 2, settings: settings)
    #expect(!v.passed)
    #expect(v.reason.contains("KL to the reference"))
  }

  @Test func failsOnARewardDropOverTheMargin() {
    let v = GuardVerdict.evaluate(kl: 1, heldOutReward: 1.4, baseline: 2.0, settings: settings)
    #expect(!v.passed)
    #expect(v.reason.contains("dropped by 0.6"))
  }

  @Test func nonFiniteFiguresFail() {
    #expect(
      !GuardVerdict.evaluate(kl: .nan, heldOutReward: 1, baseline: 1, settings: settings).passed
    )
    #expect(
      !GuardVerdict.evaluate(kl: 1, heldOutReward: .nan, baseline: 1, settings: settings).passed
    )
  }

  @Test func withoutHeldOutPromptsOnlyKLIsChecked() {
    let v = GuardVerdict.evaluate(kl: 1, heldOutReward: nil, baseline: nil, settings: settings)
    #expect(v.passed)
    #expect(v.reason.contains("reward not checked"))
  }
}
