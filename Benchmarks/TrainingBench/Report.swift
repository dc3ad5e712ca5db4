// The interleaved rounds and the report: each round one rlhfd step, then one PyTorch step on the
// same shapes (ABAB…, after one warm-up step each); per part (forward, backward, optimizer) and
// for the step's wall time the median over the rounds for both sides, in seconds per 1k units
// (response tokens for PPO, pairs for the reward model), and rlhfd ÷ PyTorch; issue 13's goal is
// a step ≤ 0.5× PyTorch's time. The limits (BenchSupport) bracket the rounds: UNRELIABLE at the
// top when they moved by more than 20 %.
import BenchSupport
import Foundation
import Training

struct Rounds {
  static let parts = ["forward", "backward", "optimizer", "step"]
  static let goal = 0.5

  var samples = Samples()
  var peerNote: String

  /// `once`: one rlhfd step (its parts and wall seconds); `units`: per step.
  mutating func run(
    rounds: Int,
    units: Double,
    once: () throws -> (TrainingStepTimes, Double),
    peer: inout TorchPeer?
  ) throws {
    print("warm-up: one step of each side")
    _ = try once()
    do { _ = try peer?.step() } catch { drop(&peer, "in its warm-up", error) }
    let perK = 1000 / units
    for round in 1...rounds {
      print("ROUND   \(round)/\(rounds): load average \(ProcStatus.loadAverage)")
      let (times, wall) = try once()
      for (part, seconds) in zip(
        Self.parts,
        [times.forward, times.backward, times.optimizer, wall]
      ) {
        samples.add("rlhfd_\(part)", seconds * perK)
      }
      guard let side = peer else { continue }
      do {
        let s = try side.step()
        let k = 1000 / s.units
        for (part, seconds) in zip(Self.parts, [s.forward, s.backward, s.optimizer, s.wall]) {
          samples.add("torch_\(part)", seconds * k)
        }
      } catch { drop(&peer, "in round \(round)", error) }
    }
  }

  private mutating func drop(_ peer: inout TorchPeer?, _ when: String, _ error: any Error) {
    peerNote = "peer FAILED \(when): \(error); dropped from then on"
    print(peerNote)
    peer?.stop()
    peer = nil
  }

  /// rlhfd's median ÷ PyTorch's for a part, when both ran.
  func ratio(_ part: String) -> Double? {
    guard let a = samples.stat("rlhfd_\(part)"), let b = samples.stat("torch_\(part)") else {
      return nil
    }
    return a.median / b.median
  }

  func text(unit: String, header: [String]) -> String {
    var lines = header
    lines.append(peerNote)
    lines.append("")
    lines.append(
      "| s per 1k \(unit) (median of rounds, min–max) | rlhfd | PyTorch | rlhfd ÷ PyTorch |"
    )
    lines.append("|---|---|---|---|")
    for part in Self.parts {
      let mine = samples.stat("rlhfd_\(part)")?.text(3) ?? "–"
      let theirs = samples.stat("torch_\(part)")?.text(3) ?? "–"
      let r = ratio(part).map { fmt($0, 2) + "×" } ?? "–"
      lines.append("| \(part == "step" ? "step (wall)" : part) | \(mine) | \(theirs) | \(r) |")
    }
    lines.append("")
    let verdict = ratio("step").map { $0 <= Self.goal ? "PASS" : "FAIL" } ?? "not judged (no peer)"
    lines.append(
      "goal (issue 13): step ≤ \(fmt(Self.goal, 1))× PyTorch's time: \(ratio("step").map { fmt($0, 2) + "×" } ?? "–") \(verdict)"
    )
    return lines.joined(separator: "\n")
  }

  var json: [String: Any] {
    var ratios: [String: Any] = [:]
    for part in Self.parts { ratios[part] = ratio(part) ?? NSNull() }
    return ["figures": samples.json, "ratios": ratios, "peer": peerNote, "goal": Self.goal]
  }
}
