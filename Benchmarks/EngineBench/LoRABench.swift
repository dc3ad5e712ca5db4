// Policy versions sharing a batch (issue 11 part 5): batched decode of 32 rows spread over 4 LoRA
// versions (r = 64 on the 7 decoder targets, random adapters) against 32 rows of one version (the
// base), and 32 rows of one adapter version for scale; goal ≥ 0.85×. Each configuration prefills
// its sequences (not timed) and then times `steps` decode steps of `logitsBatch` (base product
// once over all rows, each version's delta on its own rows, LM head, argmax); the configurations
// alternate within each round and the medians are compared, by wall time and by the process's
// CPU time (tokens per CPU-second: steadier on a shared machine, where other work delays our
// threads without adding to our CPU time). Memory per version = its A and B buffers (fp32, or
// bf16 under precision bf16).
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
    rounds: Int
  ) throws -> [String: Any] {
    let language = LanguageModel(weights: weights)
    let t0 = Clock.now()
    let adapters = try (0..<versions).map {
      try DecoderAdapter(
        randomRank: rank,
        alpha: Double(rank) / 4,
        base: weights,
        seed: UInt64(100 + $0)
      )
    }
    let perVersion = adapters.first?.byteCount ?? 0
    print(
      "LORA    \(versions) random adapters, r \(rank) on q,k,v,o,gate,up,down of \(weights.config.text.numHiddenLayers) layers, \(adapters.first?.dtype.description ?? "-"): \(gb(perVersion)) per version, made in \(fmt(Clock.now() - t0, 1)) s"
    )
    let configurations: [(name: String, adapters: [DecoderAdapter?])] = [
      ("base", [nil]),
      ("one adapter", [adapters[0]]),
      ("\(versions) versions", adapters),
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
    var samples: [[Double]] = Array(repeating: [], count: configurations.count)
    var cpuSamples: [[Double]] = Array(repeating: [], count: configurations.count)
    // Warm-up (not counted): first touches of the KV pool, the adapters and the panels.
    for configuration in configurations {
      _ = try decodeRate(
        language,
        prompts: prompts,
        adapters: (0..<rows).map { configuration.adapters[$0 % configuration.adapters.count] },
        steps: 2
      )
    }
    for round in 1...rounds {
      for (c, configuration) in configurations.enumerated() {
        let (rate, cpuRate) = try decodeRate(
          language,
          prompts: prompts,
          adapters: (0..<rows).map { configuration.adapters[$0 % configuration.adapters.count] },
          steps: steps
        )
        samples[c].append(rate)
        cpuSamples[c].append(cpuRate)
        print(
          "LORA    round \(round)/\(rounds) \(configuration.name): \(fmt(rate, 1)) tok/s, \(fmt(cpuRate, 1)) tok/CPU-s (\(rows) rows; cpu pressure avg10 \(ProcStatus.cpuPressure) %)"
        )
      }
    }
    let medians = samples.map(median)
    let cpuMedians = cpuSamples.map(median)
    let ratio = medians[2] / medians[0]
    let cpuRatio = cpuMedians[2] / cpuMedians[0]
    print(
      "LORA    \(weights.precision.rawValue): \(rows) rows decode, medians of \(rounds): base \(fmt(medians[0], 1)) tok/s, one adapter \(fmt(medians[1], 1)) tok/s, \(versions) versions \(fmt(medians[2], 1)) tok/s"
    )
    print(
      "LORA    \(weights.precision.rawValue): \(versions) versions / base = \(fmt(ratio, 3))× (goal ≥ \(goal)×: \(ratio >= goal ? "PASS" : "FAIL")); one adapter / base = \(fmt(medians[1] / medians[0], 3))×; memory per version \(gb(perVersion))"
    )
    print(
      "LORA    \(weights.precision.rawValue): by CPU time: base \(fmt(cpuMedians[0], 1)), one adapter \(fmt(cpuMedians[1], 1)), \(versions) versions \(fmt(cpuMedians[2], 1)) tok/CPU-s: \(versions) versions / base = \(fmt(cpuRatio, 3))×"
    )
    return [
      "rows": rows, "versions": versions, "rank": rank, "steps": steps,
      "base_tok_s": medians[0], "one_adapter_tok_s": medians[1], "versions_tok_s": medians[2],
      "ratio_versions_to_base": ratio, "bytes_per_version": perVersion,
      "cpu_ratio_versions_to_base": cpuRatio, "base_tok_cpu_s": cpuMedians[0],
      "versions_tok_cpu_s": cpuMedians[2],
    ]
  }

  /// Prefills every prompt (with its row's adapter; not timed), then times `steps` batched
  /// decode steps of all rows: tokens per second and per CPU-second of the process.
  static func decodeRate(
    _ language: LanguageModel,
    prompts: [[Int32]],
    adapters: [DecoderAdapter?],
    steps: Int
  ) throws -> (wall: Double, cpu: Double) {
    let blockSize = 16
    let perSequence = (prompts[0].count + steps + blockSize - 1) / blockSize + 1
    let cache = language.makePagedCache(blocks: prompts.count * perSequence, blockSize: blockSize)
    let tables = prompts.indices.map { s in
      (0..<perSequence).map { Int32(s * perSequence + $0) }
    }
    var entries = prompts.indices.map {
      DecoderBatchEntry(
        tokens: prompts[$0],
        start: 0,
        blockTable: tables[$0],
        adapter: adapters[$0]
      )
    }
    var logits = try language.logitsBatch(entries, cache: cache)
    let (start, cpuStart) = (Clock.now(), Clock.processCPU())
    for step in 0..<steps {
      let V = logits.count / prompts.count
      for s in prompts.indices {
        let next = Int32(LlavaModel.argmax(Array(logits[(s * V)..<((s + 1) * V)])))
        entries[s] = DecoderBatchEntry(
          tokens: [next],
          start: prompts[s].count + step,
          blockTable: tables[s],
          adapter: adapters[s]
        )
      }
      logits = try language.logitsBatch(entries, cache: cache)
    }
    let tokens = Double(steps * prompts.count)
    return (tokens / (Clock.now() - start), tokens / (Clock.processCPU() - cpuStart))
  }
}
