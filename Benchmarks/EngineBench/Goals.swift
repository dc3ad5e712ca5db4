// The engine goals of issue 10 part 4, evaluated on one run's medians: prefill ≥ 1.0× llama.cpp's
// best type (F16 or BF16, whichever was faster in the same run) in fp32 and ≥ 1.5× in bf16 where
// the CPU has bf16 instructions; batch-1 decode ≥ 1.0×. A FAIL names the limit measured here
// (sgemm ceiling for prefill, bandwidth ÷ bytes per token for decode). The run is UNRELIABLE
// when a limit moved by more than 20 % between its start and its end (LimitDrift,
// Benchmarks/BenchSupport).
import BenchSupport
import Foundation

struct GoalReport {
  var host: BenchHost
  var start: LimitReading
  var end: LimitReading
  var samples: Samples
  var precisions: [String]
  var peerTypes: [String]
  var peerNote: String
  var flopsPerToken: Double  // prefill
  var decodeBytes: Double
  var prefillTokens: Int
  var decodeTokens: Int

  var limits: LimitDrift { LimitDrift(start: start, end: end) }
  var unreliable: [String] { limits.unreliable }

  func best(_ figure: String) -> (type: String, value: Double)? {
    let all: [(type: String, value: Double)] = peerTypes.compactMap { t in
      samples.stat("peer_\(t)_\(figure)").map { (type: t, value: $0.median) }
    }
    return all.max { $0.value < $1.value }
  }

  struct Goal {
    var what: String
    var goal: Double
    var ratio: Double?
    var verdict: String
    var limit: String
  }

  var goals: [Goal] {
    var out: [Goal] = []
    let ceiling = max(start.sgemm, end.sgemm)
    let bandwidth = max(start.bandwidth, end.bandwidth)
    for p in precisions {
      let ppGoal = p == "bf16" ? 1.5 : 1.0
      let what = "prefill \(prefillTokens) tok, \(p), vs llama.cpp best type"
      if p == "bf16" && !host.hasBF16 {
        out.append(
          Goal(
            what: what,
            goal: ppGoal,
            ratio: nil,
            verdict: "n/a",
            limit: "no bf16 instructions on this CPU"
          )
        )
      } else if let ours = samples.stat("rlhfd_\(p)_pp_tok_s")?.median {
        let bound = ceiling * 1e9 / flopsPerToken
        var limit =
          "rlhfd \(fmt(ours * flopsPerToken / 1e9, 0)) GFLOP/s; fp32 sgemm ceiling \(fmt(ceiling, 0)) GFLOP/s = \(fmt(bound, 1)) tok/s"
        if p == "bf16" { limit += " (bf16 products may exceed it)" }
        out.append(
          evaluate(
            what,
            ppGoal,
            ours,
            best("pp_tok_s"),
            bound: p == "fp32" ? bound : nil,
            limit: limit
          )
        )
      }
      if let ours = samples.stat("rlhfd_\(p)_tg_tok_s")?.median {
        let bound = bandwidth * 1e9 / decodeBytes
        let limit =
          "bound = read bandwidth \(fmt(bandwidth, 1)) GB/s ÷ \(fmt(decodeBytes / 1e9, 2)) GB per token = \(fmt(bound, 1)) tok/s; rlhfd reads \(fmt(ours * decodeBytes / 1e9, 1)) GB/s"
        out.append(
          evaluate(
            "decode batch 1, \(decodeTokens) tok, \(p), vs llama.cpp best type",
            1.0,
            ours,
            best("tg_tok_s"),
            bound: bound,
            limit: limit
          )
        )
      }
    }
    out += imageGoals
    return out
  }

  /// Image encode against llama.cpp's (`llama-mtmd-cli`, F16 mmproj): ≥ 3× on an AMX host
  /// (issue 10 part 2), shown as a ratio elsewhere. Seconds, so the ratio is peer ÷ ours.
  var imageGoals: [Goal] {
    guard let peer = samples.stat("peer_f16_image_encode_s")?.median else { return [] }
    let amx = host.flags["amx_bf16"] == true
    return precisions.compactMap { p in
      guard let ours = samples.stat("rlhfd_\(p)_image_encode_s")?.median else { return nil }
      let ratio = peer / ours
      let what = "image encode, \(p), vs llama.cpp F16 (mtmd)"
      let detail = "rlhfd \(fmt(ours, 3)) s, llama-mtmd-cli \(fmt(peer, 3)) s"
      guard amx else {
        return Goal(what: what, goal: 0, ratio: ratio, verdict: "(no goal)", limit: detail)
      }
      return Goal(
        what: what,
        goal: 3,
        ratio: ratio,
        verdict: ratio >= 3 ? "PASS" : "FAIL",
        limit: detail
      )
    }
  }

  private func evaluate(
    _ what: String,
    _ goal: Double,
    _ ours: Double,
    _ peer: (type: String, value: Double)?,
    bound: Double?,
    limit: String
  ) -> Goal {
    guard let peer else {
      return Goal(what: what, goal: goal, ratio: nil, verdict: "n/a", limit: peerNote)
    }
    let ratio = ours / peer.value
    let pass = ratio >= goal
    var text = "vs \(peer.type.uppercased()) \(fmt(peer.value, 2)) tok/s"
    if !pass {
      text += "; needs \(fmt(goal * peer.value, 2)) tok/s; " + limit
      if let bound, goal * peer.value > bound {
        text += " — the goal lies above this host's measured limit"
      }
    }
    return Goal(what: what, goal: goal, ratio: ratio, verdict: pass ? "PASS" : "FAIL", limit: text)
  }

  var text: String {
    var lines: [String] = []
    lines.append(limits.verdictLine)
    lines.append("CPU: \(host.line)")
    lines.append("kernels: \(host.kernels)")
    lines.append(
      "machine before the run: \(host.machineState.isEmpty ? "(not recorded)" : host.machineState)"
    )
    lines.append(limits.limitsLine)
    lines.append(peerNote)
    lines.append("")
    lines.append("| figure (median of rounds, min–max) | value |")
    lines.append("|---|---|")
    for key in samples.keys { lines.append("| \(key) | \(samples.stat(key)!.text()) |") }
    lines.append("")
    lines.append("| goal | ratio | verdict | detail |")
    lines.append("|---|---|---|---|")
    for g in goals {
      lines.append(
        "| \(g.what)\(g.goal > 0 ? " ≥ \(fmt(g.goal, 1))×" : "") | \(g.ratio.map { fmt($0, 2) + "×" } ?? "–") | \(g.verdict) | \(g.limit) |"
      )
    }
    return lines.joined(separator: "\n")
  }

  var json: [String: Any] {
    [
      "reliable": unreliable.isEmpty, "unreliable_reasons": unreliable, "host": host.json,
      "limits_start": start.json, "limits_end": end.json, "peer": peerNote,
      "figures": samples.json,
      "goals": goals.map {
        [
          "what": $0.what, "goal": $0.goal, "ratio": $0.ratio.map { $0 as Any } ?? NSNull(),
          "verdict": $0.verdict, "detail": $0.limit,
        ]
      },
    ]
  }
}
