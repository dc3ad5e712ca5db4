// `EngineBench` without `--no-breakdown`: where the time of a prefill, a decode step and an
// image encode goes, per kernel, from the replicas in Breakdown.swift (after the rounds, on the
// last precision loaded). Diagnosis only: no goal depends on it.
import BenchSupport
import Foundation

enum Breakdowns {
  static func run(_ ph: Phases, into json: inout [String: Any], vision: Bool) {
    let T = ph.prompt.count
    let P = ph.shortPrompt.count
    let prefillReplica = DecoderReplica(weights: ph.weights, capacity: T)
    let pt = PhaseTimer()
    prefillReplica.forward(tokens: ph.prompt, timer: pt)
    show("prefill \(T) \(ph.precision)", pt, perUnit: 1, unit: "per prefill", into: &json)

    let decodeReplica = DecoderReplica(weights: ph.weights, capacity: P + 33)
    decodeReplica.forward(tokens: ph.shortPrompt, timer: PhaseTimer())
    let dt = PhaseTimer()
    let steps = 32
    for i in 0..<steps { decodeReplica.forward(tokens: [ph.shortPrompt[i % P]], timer: dt) }
    show("decode \(ph.precision)", dt, perUnit: 1 / Double(steps), unit: "per token", into: &json)

    if vision {
      let vt = PhaseTimer()
      VisionReplica.forward(weights: ph.weights, pixels: ph.pixels, timer: vt)
      show("image encode \(ph.precision)", vt, perUnit: 1, unit: "per image", into: &json)
    }
  }

  static func show(
    _ title: String,
    _ timer: PhaseTimer,
    perUnit: Double,
    unit: String,
    into json: inout [String: Any]
  ) {
    let total = timer.total * perUnit
    print("BREAKDOWN \(title): \(fmt(total, 4)) s \(unit)")
    var groups: [String: Double] = [:]
    for (phase, seconds) in timer.scaled(by: perUnit) {
      print(
        "          \(phase.padding(toLength: 30, withPad: " ", startingAt: 0)) \(fmt(seconds, 4)) s  \(fmt(100 * seconds / total, 1)) %"
      )
      let group =
        phase.hasPrefix("matmul") || phase == "projector" || phase.hasPrefix("patchify")
        ? "matmul" : phase == "attention" ? "attention" : phase.contains("norm") ? "norms" : "other"
      groups[group, default: 0] += seconds
    }
    let summary = ["matmul", "attention", "norms", "other"].map {
      "\($0) \(fmt(100 * (groups[$0] ?? 0) / total, 1)) %"
    }
    print("          => " + summary.joined(separator: ", "))
    json["breakdown_\(title.replacingOccurrences(of: " ", with: "_"))"] = Dictionary(
      uniqueKeysWithValues: timer.scaled(by: perUnit)
    )
  }
}
