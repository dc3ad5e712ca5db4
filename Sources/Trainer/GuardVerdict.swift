// The publishing guard's rule in one place (issue 13 item 4): a version may be promoted when its
// held-out reward has not dropped by more than the margin below the reference version's (both
// measured with the same reward-model version on the same held-out prompts) and its KL to the
// reference is under the ceiling.
import Foundation
import Training

struct GuardVerdict: Sendable, Equatable {
  let passed: Bool
  /// Why, with the figures.
  let reason: String

  static func evaluate(
    kl: Double,
    heldOutReward: Double?,
    baseline: Double?,
    settings: GuardSettings
  ) -> GuardVerdict {
    var failures: [String] = []
    var figures: [String] = ["KL \(format(kl)) (ceiling \(format(settings.maxKLToReference)))"]
    if !kl.isFinite || kl > settings.maxKLToReference {
      failures.append("KL to the reference \(format(kl)) > \(format(settings.maxKLToReference))")
    }
    if let heldOutReward, let baseline {
      let drop = baseline - heldOutReward
      figures.append(
        "held-out reward \(format(heldOutReward)) vs reference \(format(baseline))"
          + " (largest drop \(format(settings.maxHeldOutRewardDrop)))"
      )
      if !heldOutReward.isFinite || drop > settings.maxHeldOutRewardDrop {
        failures.append(
          "held-out reward dropped by \(format(drop)) > \(format(settings.maxHeldOutRewardDrop))"
        )
      }
    } else {
      figures.append("no held-out prompts: reward not checked")
    }
    if failures.isEmpty {
      return GuardVerdict(passed: true, reason: "guard passed: " + figures.joined(separator: ", "))
    }
    return GuardVerdict(passed: false, reason: "guard failed: " + failures.joined(separator: "; "))
  }

  static func format(_ x: Double) -> String {
    guard x.isFinite else { return "\(x)" }
    return String(format: "%.4g", x)
  }
}
