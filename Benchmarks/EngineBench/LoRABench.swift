// Policy versions sharing a batch (issue 11 part 5): batched decode of 32 rows spread over 4 LoRA
// versions (r = 64 on the 7 decoder targets, random adapters) against 32 rows of one version:
// the base, and one adapter version; goal ≥ 0.85× (both printed). Each configuration prefills
// its sequences (not timed) and then times decode steps of `logitsBatch` (base product once
// over all rows, each version's delta on its own rows, LM head, argmax); the configurations
// take turns step by step, and the ratio is the median of paired neighbouring steps (also shown:
// ratios of median steps, by wall time and by the process's CPU time). Memory per version = its
// A and B buffers (`--lora-dtype`: bf16 by default, as a bf16 PEFT file is stored; f32 doubles it).
import BenchSupport
import Checkpoints
import Engine
import Foundation
import Models

enum LoRABench {
  static let goal = 0.85

  static func run(
    weights: LlavaWeights,
    rows: Int,
    versions: Int,
    rank: Int,
    steps: Int,
    rounds: Int,
    dtype: WeightView.DType
  ) throws -> [String: Any] {
    let language = LanguageModel(weights: weights)
    let t0 = Clock.now()
    let adapters = try (0..<versions).map {
      try DecoderAdapter(
        randomRank: rank,
        alpha: Double(rank) / 4,
        base: weights,
        seed: UInt64(100 + $0),
        dtype: dtype
      )
    }
    let perVersion = adapters.first?.byteCount ?? 0
    print(
      "LORA    \(versions) random adapters, r \(rank) on q,k,v,o,gate,up,down of \(weights.config.text.numHiddenLayers) layers, \(adapters.first?.dtype.description ?? "-"): \(gb(perVersion)) per version, made in \(fmt(Clock.now() - t0, 1)) s"
    )
    // The last configuration runs the versions' deltas one linear at a time (the path before
    // the stacked A products), for a same-run before/after of `LanguageModel.stacksLoRA`.
    let configurations: [(name: String, adapters: [DecoderAdapter?], stacked: Bool)] = [
      ("base", [nil], true),
      ("one adapter", [adapters[0]], true),
      ("\(versions) versions", adapters, true),
      ("\(versions) versions per linear", adapters, false),
    ]
    var rng = SplitMix(state: 11)
    let V = weights.config.text.vocabSize
    let imageToken = Int32(truncatingIfNeeded: weights.config.imageTokenIndex)
    let prompts = (0..<rows).map { _ in
      (0..<16).map { _ in
        let token = Int32(3 + rng.next() % UInt64(V - 3))
        return token == imageToken ? 3 : token
      }
    }
    // One decode run per configuration, advanced step by step in turn (base, one adapter, the
    // versions, base, ...), so that load from other work falls on all of them alike; each
    // configuration's step times, and the paired ratios of neighbouring steps, give the medians.
    let runs = try configurations.map { configuration in
      try DecodeRun(
        language,
        prompts: prompts,
        adapters: (0..<rows).map { configuration.adapters[$0 % configuration.adapters.count] },
        capacity: rounds * steps + 2
      )
    }
    for (c, run) in runs.enumerated() {  // warm-up: first touches of adapters and panels
      LanguageModel.stacksLoRA = configurations[c].stacked
      _ = try run.step()
    }
    var wall: [[Double]] = Array(repeating: [], count: runs.count)
    var cpu: [[Double]] = Array(repeating: [], count: runs.count)
    for round in 1...rounds {
      for _ in 0..<steps {
        for (c, run) in runs.enumerated() {
          LanguageModel.stacksLoRA = configurations[c].stacked
          let (w, u) = try run.step()
          wall[c].append(w)
          cpu[c].append(u)
        }
      }
      let line = configurations.indices.map {
        "\(configurations[$0].name) \(fmt(Double(rows) / median(Array(wall[$0].suffix(steps))), 1))"
      }
      print(
        "LORA    round \(round)/\(rounds), tok/s (median step): \(line.joined(separator: ", ")) (cpu pressure avg10 \(ProcStatus.cpuPressure) %)"
      )
    }
    let medians = wall.map { Double(rows) / median($0) }
    let cpuMedians = cpu.map { Double(rows) / median($0) }
    LanguageModel.stacksLoRA = true
    let paired = median(wall[0].indices.map { wall[0][$0] / wall[2][$0] })
    let pairedPerLinear = median(wall[0].indices.map { wall[0][$0] / wall[3][$0] })
    let pairedToOne = median(wall[1].indices.map { wall[1][$0] / wall[2][$0] })
    let ratio = medians[2] / medians[0]
    let cpuRatio = cpuMedians[2] / cpuMedians[0]
    print(
      "LORA    \(weights.precision.rawValue): \(rows) rows decode, median step of \(rounds * steps): base \(fmt(medians[0], 1)) tok/s, one adapter \(fmt(medians[1], 1)) tok/s, \(versions) versions \(fmt(medians[2], 1)) tok/s (per linear, the earlier path: \(fmt(medians[3], 1)) tok/s, \(fmt(medians[3] / medians[0], 3))× base, paired \(fmt(pairedPerLinear, 3))×)"
    )
    print(
      "LORA    \(weights.precision.rawValue): \(versions) versions / base = \(fmt(ratio, 3))× (median of paired neighbouring steps \(fmt(paired, 3))×; by CPU time \(fmt(cpuRatio, 3))×; goal ≥ \(goal)×: \(paired >= goal ? "PASS" : "FAIL")); one adapter / base = \(fmt(medians[1] / medians[0], 3))×; memory per version \(gb(perVersion))"
    )
    // The same goal read against one LoRA version (same LoRA configuration, one adapter): the
    // base alone reads no adapter bytes, so against it the ratio is bounded by
    // base bytes / (base bytes + versions × adapter bytes) on a memory-bound decode.
    print(
      "LORA    \(weights.precision.rawValue): \(versions) versions / one adapter version = \(fmt(medians[2] / medians[1], 3))× (paired \(fmt(pairedToOne, 3))×; goal ≥ \(goal)×: \(pairedToOne >= goal ? "PASS" : "FAIL"))"
    )
    return [
      "paired_ratio_versions_to_one_adapter": pairedToOne,
      "rows": rows, "versions": versions, "rank": rank, "steps": steps,
      "base_tok_s": medians[0], "one_adapter_tok_s": medians[1], "versions_tok_s": medians[2],
      "versions_per_linear_tok_s": medians[3], "paired_ratio_per_linear_to_base": pairedPerLinear,
      "ratio_versions_to_base": ratio, "paired_ratio_versions_to_base": paired,
      "bytes_per_version": perVersion,
      "cpu_ratio_versions_to_base": cpuRatio, "base_tok_cpu_s": cpuMedians[0],
      "versions_tok_cpu_s": cpuMedians[2],
    ]
  }

}

/// Sequences decoding in one batch: prefilled at `init` (not timed), then one step per `step()`.
final class DecodeRun {
  let language: LanguageModel
  let prompts: [[Int32]]
  let adapters: [DecoderAdapter?]
  let cache: PagedKVCache
  let tables: [[Int32]]
  var logits: [Float]
  var position: Int

  init(
    _ language: LanguageModel,
    prompts: [[Int32]],
    adapters: [DecoderAdapter?],
    capacity: Int
  ) throws {
    let blockSize = 16
    let perSequence = (prompts[0].count + capacity + blockSize - 1) / blockSize
    self.language = language
    self.prompts = prompts
    self.adapters = adapters
    let cache = language.makePagedCache(blocks: prompts.count * perSequence, blockSize: blockSize)
    let tables = prompts.indices.map { s in
      (0..<perSequence).map { Int32(s * perSequence + $0) }
    }
    self.cache = cache
    self.tables = tables
    position = prompts[0].count
    logits = try language.logitsBatch(
      prompts.indices.map {
        DecoderBatchEntry(
          tokens: prompts[$0],
          start: 0,
          blockTable: tables[$0],
          adapter: adapters[$0]
        )
      },
      cache: cache
    )
  }

  /// One decode step of every row (greedy): seconds of wall time and of process CPU time.
  func step() throws -> (wall: Double, cpu: Double) {
    let (start, cpuStart) = (Clock.now(), Clock.processCPU())
    let V = logits.count / prompts.count
    let entries = prompts.indices.map { s in
      var entry = DecoderBatchEntry(
        tokens: [Int32(LlavaModel.argmax(Array(logits[(s * V)..<((s + 1) * V)])))],
        start: position,
        blockTable: tables[s],
        adapter: adapters[s]
      )
      entry.promptEnd = prompts[s].count  // a sampled image token id is text
      return entry
    }
    logits = try language.logitsBatch(entries, cache: cache)
    position += 1
    return (Clock.now() - start, Clock.processCPU() - cpuStart)
  }
}
