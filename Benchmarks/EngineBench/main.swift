// EngineBench: the CPU/BLAS engine on TinyLlama-1.1B text shapes (bf16 weights) and a CLIP
// ViT-L/14-336 vision tower, loaded from a llava-hf checkpoint with `LlavaWeights` exactly as
// the daemon loads it, against the machine's limits (PERFORMANCE.md) and, in the same run,
// llama.cpp's llama-bench on the same shapes. One line per figure: the figure, what it is held
// against, the ratio. Entry point: Benchmarks/engine.sh.
import Checkpoints
import Engine
import Foundation
import Glibc
import Models

Kernels.probeIfAsked()
let options = Options.parse(CommandLine.arguments)
// First, before any thread of ours: the daemon's choice of OpenBLAS kernels (may re-execute).
let kernels = Kernels.choose(setting: options.blasCore, stateDirectory: options.stateDirectory)
if options.kernelsOnly {
  do {
    try KernelBench.run(runs: options.runs)
    exit(0)
  } catch {
    print("kernel benchmark failed: \(error)")
    exit(1)
  }
}

// Limits from /work/shared/PERFORMANCE.md (this machine class: 2 Zen 3 cores, AVX2+FMA).
let sgemmCeiling = 130.0  // GFLOP/s, OpenBLAS sgemm at M=512, 2 threads
let readBandwidth = 18.6  // GB/s, 2-thread read bandwidth
let peerReference: [String: (pp: Double, tg: Double)] = [
  "f16": (65.7, 9.49), "bf16": (47.1, 7.95),
]

struct Figure {
  var key: String
  var text: String
  var value: Double
  var unit: String
  var against: String
  var ratio: Double?
}
var figures: [Figure] = []
var json: [String: Any] = [:]

@MainActor func report(_ f: Figure) {
  figures.append(f)
  let ratio = f.ratio.map { "ratio \(fmt($0, 3))" } ?? ""
  let value = "\(fmt(f.value, f.value < 10 ? 3 : 1)) \(f.unit)"
  print(
    "FIGURE  \(f.text.padding(toLength: 44, withPad: " ", startingAt: 0))  \(value.padding(toLength: 18, withPad: " ", startingAt: 0))  vs \(f.against)  \(ratio)"
  )
}

@MainActor func rssLine(_ phase: String) {
  let peak = ProcStatus.peakRSS
  print(
    "RSS     after \(phase) (cpu pressure avg10 \(ProcStatus.cpuPressure) %): peak (VmHWM) \(gb(peak)), now \(gb(ProcStatus.rss)) (file-backed \(gb(ProcStatus.rssFile)), anonymous \(gb(ProcStatus.rssAnon)))"
  )
  report(
    Figure(
      key: "peak_rss_after_\(phase)",
      text: "peak RSS after \(phase)",
      value: Double(peak) / 1e9,
      unit: "GB",
      against: "24 GiB machine; weights file 2.9 GB (mmap, counted when touched)",
      ratio: nil
    )
  )
}

@MainActor func printBreakdown(_ title: String, _ timer: PhaseTimer, perUnit: Double, unit: String)
{
  let total = timer.total
  print("BREAKDOWN \(title): \(fmt(total * perUnit, 4)) s \(unit)")
  var groups: [String: Double] = [:]
  for (phase, seconds) in timer.scaled(by: perUnit) {
    print(
      "          \(phase.padding(toLength: 30, withPad: " ", startingAt: 0)) \(fmt(seconds, 4)) s  \(fmt(100 * seconds / (total * perUnit), 1)) %"
    )
    let group =
      phase.hasPrefix("matmul") || phase == "projector" || phase.hasPrefix("patchify")
      ? "matmul" : phase == "attention" ? "attention" : phase.contains("norm") ? "norms" : "other"
    groups[group, default: 0] += seconds
  }
  let summary = ["matmul", "attention", "norms", "other"].map {
    "\($0) \(fmt(100 * (groups[$0] ?? 0) / (total * perUnit), 1)) %"
  }
  print("          => " + summary.joined(separator: ", "))
  json["breakdown_\(title.replacingOccurrences(of: " ", with: "_"))"] = Dictionary(
    uniqueKeysWithValues: timer.scaled(by: perUnit)
  )
}

do {
  print(
    "EngineBench: load average \(ProcStatus.loadAverage), cpu pressure avg10 \(ProcStatus.cpuPressure) %; OpenBLAS \(BLASThreads.configuration), \(BLASThreads.count) BLAS threads, engine pool \(ThreadPool.shared.threadCount) threads"
  )
  json["load_average_start"] = ProcStatus.loadAverage
  json["cpu_pressure_avg10_start"] = ProcStatus.cpuPressure
  if ProcStatus.cpuPressure > 10 {
    print(
      "WARNING: other processes are using the CPUs (pressure avg10 \(ProcStatus.cpuPressure) %); figures will be low"
    )
  }
  json["openblas"] = BLASThreads.configuration
  json["openblas_core"] = kernels.summary

  // MARK: limits of this host, measured now (PERFORMANCE.md's figures are for 2-core Zen 3)
  let sgemmSquare = Limits.sgemm(M: 512, N: 2048, K: 2048)
  let sgemmWide = Limits.sgemm(M: 512, N: 5632, K: 2048)
  let measuredCeiling = max(sgemmSquare, sgemmWide)
  let measuredBandwidth = Limits.readBandwidth()
  print(
    "LIMITS  sgemm (OpenBLAS via Matmul.forward, fp32, M=512, best of 5): 2048×2048 \(fmt(sgemmSquare, 1)), 2048→5632 \(fmt(sgemmWide, 1)) GFLOP/s (PERFORMANCE.md: \(sgemmCeiling)); read bandwidth (best of 5), \(ThreadPool.shared.threadCount) threads, 2 GiB: \(fmt(measuredBandwidth, 1)) GB/s (PERFORMANCE.md: \(readBandwidth))"
  )
  json["limits_measured"] = [
    "sgemm_gflops_512x2048x2048": sgemmSquare, "sgemm_gflops_512x5632x2048": sgemmWide,
    "read_gb_s": measuredBandwidth,
  ]
  json["limits_documented"] = ["sgemm_gflops": sgemmCeiling, "read_gb_s": readBandwidth]

  ProcStatus.resetPeak()
  print("RSS     before load (after the limit probes, peak reset): \(gb(ProcStatus.peakRSS))")

  // MARK: checkpoint
  var t0 = Clock.now()
  let wrote = try BenchCheckpoint.ensure(directory: options.cacheDirectory)
  if wrote {
    print("checkpoint written to \(options.cacheDirectory) in \(fmt(Clock.now() - t0, 1)) s")
  }
  t0 = Clock.now()
  let weights = try LlavaWeights(directory: options.cacheDirectory, precision: options.precision)
  let loadSeconds = Clock.now() - t0
  let model = LlavaModel(weights: weights)
  let text = weights.config.text
  print(
    "loaded \(options.cacheDirectory) with LlavaWeights (mmap) in \(fmt(loadSeconds, 2)) s; layout \(weights.checkpoint.layout); precision \(options.precision)"
  )
  json["precision"] = options.precision.rawValue
  json["load_seconds"] = loadSeconds
  rssLine("load")

  // Model arithmetic. Per decoder layer: q,o (C×NH·HS), k,v (C×NKV·HS), gate,up,down (C×I).
  let (C, I, NH, NKV, HS, V, L) = (
    text.hiddenSize, text.intermediateSize, text.numAttentionHeads, text.numKeyValueHeads,
    text.headDim, text.vocabSize, text.numHiddenLayers
  )
  let layerParams = 2 * C * NH * HS + 2 * C * NKV * HS + 3 * C * I
  let matmulParams = L * layerParams  // the lm_head is run for one row only
  func prefillFlops(_ T: Int) -> (matmul: Double, attention: Double) {
    let matmul = 2.0 * Double(T) * Double(matmulParams) + 2.0 * Double(C * V)
    let attention = Double(L) * 4.0 * Double(NH * HS) * Double(T) * Double(T + 1) / 2
    return (matmul, attention)
  }
  let decodeBytes = Double(matmulParams + V * C) * 2  // bf16 weights read once per token
  let decodeBound = readBandwidth * 1e9 / decodeBytes

  var rng = SplitMix(state: 7)
  func randomTokens(_ n: Int) -> [Int32] {
    (0..<n).map { _ in Int32(3 + rng.next() % UInt64(V - 3)) }
  }

  // MARK: (1) prefill
  let T = options.prefillTokens
  let prompt = randomTokens(T)
  func prefillOnce() throws -> Double {
    var cache = model.language.makeCache(capacity: T)
    let start = Clock.now()
    _ = try model.language.forward(tokens: prompt, cache: &cache)
    return Clock.now() - start
  }
  print("prefill \(T) tokens: warm-up...")
  let warm = try prefillOnce()
  var prefillTimes: [Double] = []
  for _ in 0..<options.runs { prefillTimes.append(try prefillOnce()) }
  let prefillSeconds = median(prefillTimes)
  let flops = prefillFlops(T)
  let prefillTokS = Double(T) / prefillSeconds
  let prefillGFLOPS = (flops.matmul + flops.attention) / prefillSeconds / 1e9
  print(
    "prefill runs (s): warm-up \(fmt(warm, 2)), measured \(prefillTimes.map { fmt($0, 2) }.joined(separator: ", ")); work \(fmt(flops.matmul / 1e9, 1)) GFLOP matmul (2·\(matmulParams) params·\(T) + 2·C·V lm_head for the last row) + \(fmt(flops.attention / 1e9, 1)) GFLOP attention (layers·4·NH·HS·T(T+1)/2, causal)"
  )
  report(
    Figure(
      key: "prefill_tok_s",
      text: "prefill \(T) tok, text only",
      value: prefillTokS,
      unit: "tok/s",
      against:
        "llama.cpp F16 \(peerReference["f16"]!.pp) / BF16 \(peerReference["bf16"]!.pp) (PERFORMANCE.md)",
      ratio: prefillTokS / peerReference["f16"]!.pp
    )
  )
  report(
    Figure(
      key: "prefill_gflops",
      text: "prefill GFLOP/s",
      value: prefillGFLOPS,
      unit: "GFLOP/s",
      against: "sgemm ceiling measured now \(fmt(measuredCeiling, 1)) GFLOP/s (goal ≥ 0.75)",
      ratio: prefillGFLOPS / measuredCeiling
    )
  )
  report(
    Figure(
      key: "prefill_gflops_vs_documented",
      text: "prefill GFLOP/s (documented ceiling)",
      value: prefillGFLOPS,
      unit: "GFLOP/s",
      against: "PERFORMANCE.md sgemm ceiling \(sgemmCeiling) GFLOP/s",
      ratio: prefillGFLOPS / sgemmCeiling
    )
  )
  json["prefill"] = [
    "tokens": T, "seconds_runs": prefillTimes, "seconds_median": prefillSeconds,
    "tokens_per_second": prefillTokS, "gflop_matmul": flops.matmul / 1e9,
    "gflop_attention": flops.attention / 1e9, "gflops": prefillGFLOPS,
    "ratio_to_sgemm_ceiling_measured": prefillGFLOPS / measuredCeiling,
    "ratio_to_sgemm_ceiling_documented": prefillGFLOPS / sgemmCeiling,
  ]
  rssLine("prefill")

  // MARK: (2) batch-1 decode
  let P = options.promptTokens
  let N = options.decodeTokens
  let shortPrompt = randomTokens(P)
  func decodeOnce(_ count: Int) throws -> Double {
    var cache = model.language.makeCache(capacity: P + count + 1)
    var logits = try model.language.forward(tokens: shortPrompt, cache: &cache)
    let start = Clock.now()
    for _ in 0..<count {
      let next = Int32(LlavaModel.argmax(logits))
      logits = try model.language.forward(tokens: [next], cache: &cache)
    }
    return Clock.now() - start
  }
  print("decode \(N) tokens after a \(P)-token prompt: warm-up (32 tokens)...")
  _ = try decodeOnce(32)
  var decodeTimes: [Double] = []
  for _ in 0..<options.runs { decodeTimes.append(try decodeOnce(N)) }
  let decodeTokS = Double(N) / median(decodeTimes)
  print(
    "decode runs (s): \(decodeTimes.map { fmt($0, 2) }.joined(separator: ", ")); bytes per token \(fmt(decodeBytes / 1e9, 3)) GB (bf16 layer matrices + lm_head; the embedding row and KV cache are negligible) → bound \(fmt(decodeBound, 2)) tok/s at \(readBandwidth) GB/s"
  )
  let measuredBound = measuredBandwidth * 1e9 / decodeBytes
  report(
    Figure(
      key: "decode_tok_s",
      text: "decode batch 1, \(N) tok",
      value: decodeTokS,
      unit: "tok/s",
      against:
        "bound at measured \(fmt(measuredBandwidth, 1)) GB/s: \(fmt(measuredBound, 2)) tok/s (goal ≥ 0.70)",
      ratio: decodeTokS / measuredBound
    )
  )
  report(
    Figure(
      key: "decode_tok_s_vs_documented",
      text: "decode batch 1 (documented bound)",
      value: decodeTokS,
      unit: "tok/s",
      against: "PERFORMANCE.md bound \(fmt(decodeBound, 2)) tok/s at \(readBandwidth) GB/s",
      ratio: decodeTokS / decodeBound
    )
  )
  report(
    Figure(
      key: "decode_gb_s",
      text: "decode weight read rate",
      value: decodeTokS * decodeBytes / 1e9,
      unit: "GB/s",
      against: "read bandwidth measured now \(fmt(measuredBandwidth, 1)) GB/s",
      ratio: decodeTokS * decodeBytes / 1e9 / measuredBandwidth
    )
  )
  json["decode"] = [
    "prompt_tokens": P, "tokens": N, "seconds_runs": decodeTimes,
    "tokens_per_second": decodeTokS, "bytes_per_token": decodeBytes,
    "bound_tokens_per_second_documented": decodeBound,
    "bound_tokens_per_second_measured": measuredBound,
    "ratio_to_bound_measured": decodeTokS / measuredBound,
    "ratio_to_bound_documented": decodeTokS / decodeBound,
  ]
  rssLine("decode")

  // MARK: (3) CLIP ViT-L/14-336 encode
  var visionSeconds: Double?
  if !options.skipVision {
    let vc = weights.config.vision
    let pixels = (0..<model.vision.pixelCount).map { _ in rng.uniform(2) }
    func encodeOnce() throws -> (tower: Double, total: Double) {
      let start = Clock.now()
      let features = try model.vision.features(pixels: pixels)
      let mid = Clock.now()
      let embeddings = model.projector.forward(features: features)
      precondition(embeddings.count == vc.patchCount * C)
      return (mid - start, Clock.now() - start)
    }
    print(
      "image encode (CLIP ViT-L/14-336, \(vc.positionCount) tokens, \(weights.config.visionLayersUsed) layers run): warm-up..."
    )
    _ = try encodeOnce()
    var runs: [(tower: Double, total: Double)] = []
    for _ in 0..<options.runs { runs.append(try encodeOnce()) }
    let total = median(runs.map(\.total))
    let tower = median(runs.map(\.tower))
    visionSeconds = total
    let VT = vc.positionCount
    let VL = weights.config.visionLayersUsed
    let (VC, VI, NP) = (vc.hiddenSize, vc.intermediateSize, vc.patchCount)
    let vFlops =
      Double(VL) * 2 * Double(VT) * Double(4 * VC * VC + 2 * VC * VI)
      + Double(VL) * 4 * Double(VT * VT) * Double(VC)
      + 2 * Double(NP * VC * 3 * vc.patchSize * vc.patchSize)
      + 2 * Double(NP) * Double(VC * C + C * C)
    print(
      "encode runs (s): \(runs.map { "\(fmt($0.tower, 2))+\(fmt($0.total - $0.tower, 2))" }.joined(separator: ", ")) (tower+projector); work \(fmt(vFlops / 1e9, 1)) GFLOP"
    )
    report(
      Figure(
        key: "image_encode_s",
        text: "image encode (tower + projector)",
        value: total,
        unit: "s/image",
        against: "PyTorch fp32 3.9 s (PERFORMANCE.md); ratio = speed-up",
        ratio: 3.9 / total
      )
    )
    report(
      Figure(
        key: "image_encode_gflops",
        text: "image encode GFLOP/s",
        value: vFlops / total / 1e9,
        unit: "GFLOP/s",
        against: "sgemm ceiling measured now \(fmt(measuredCeiling, 1)) GFLOP/s",
        ratio: vFlops / total / 1e9 / measuredCeiling
      )
    )
    json["image_encode"] = [
      "seconds_median": total, "tower_seconds_median": tower, "gflop": vFlops / 1e9,
      "gflops": vFlops / total / 1e9,
    ]
    rssLine("vision")
  }

  // MARK: breakdowns (replicas of the forward passes with a timer per kernel call)
  if !options.skipBreakdown {
    let prefillReplica = DecoderReplica(weights: weights, capacity: T)
    let pt = PhaseTimer()
    prefillReplica.forward(tokens: prompt, timer: pt)
    print(
      "replica prefill total \(fmt(pt.total, 2)) s vs real forward median \(fmt(prefillSeconds, 2)) s"
    )
    printBreakdown("prefill \(T)", pt, perUnit: 1, unit: "per prefill")

    let decodeReplica = DecoderReplica(weights: weights, capacity: P + 33)
    decodeReplica.forward(tokens: shortPrompt, timer: PhaseTimer())
    let dt = PhaseTimer()
    let steps = 32
    for i in 0..<steps { decodeReplica.forward(tokens: [shortPrompt[i % P]], timer: dt) }
    print(
      "replica decode \(fmt(Double(steps) / dt.total, 2)) tok/s vs real \(fmt(decodeTokS, 2)) tok/s"
    )
    printBreakdown("decode", dt, perUnit: 1 / Double(steps), unit: "per token")

    if !options.skipVision {
      let pixels = (0..<model.vision.pixelCount).map { _ in rng.uniform(2) }
      let vt = PhaseTimer()
      VisionReplica.forward(weights: weights, pixels: pixels, timer: vt)
      print("replica image encode \(fmt(vt.total, 2)) s vs real \(fmt(visionSeconds ?? 0, 2)) s")
      printBreakdown("image encode", vt, perUnit: 1, unit: "per image")
    }
  }

  // MARK: llama.cpp peer, same run, after our phases
  var peers: [String: Any] = [:]
  if let binary = options.peerBinary, let dir = options.ggufDirectory {
    for type in ["f16", "bf16"] {
      let path = "\(dir)/tinyllama-\(type).gguf"
      guard FileManager.default.fileExists(atPath: path),
        FileManager.default.isExecutableFile(atPath: binary)
      else {
        print("peer: \(path) or \(binary) missing, skipped")
        continue
      }
      print("peer: llama-bench -m \(path) -p \(T) -n \(N) -t 2 -r \(options.runs) -o json ...")
      let r = try Peer.run(binary: binary, model: path, prefill: T, decode: N, runs: options.runs)
      let ref = peerReference[type]!
      if let pp = r.prefillTokensPerSecond {
        report(
          Figure(
            key: "peer_\(type)_pp",
            text: "llama.cpp \(type.uppercased()) pp\(T)",
            value: pp,
            unit: "tok/s",
            against: "PERFORMANCE.md \(ref.pp) (machine state check)",
            ratio: pp / ref.pp
          )
        )
        report(
          Figure(
            key: "ratio_prefill_vs_\(type)",
            text: "rlhfd/llama.cpp prefill (\(type.uppercased()))",
            value: prefillTokS,
            unit: "tok/s",
            against: "\(fmt(pp, 1)) tok/s",
            ratio: prefillTokS / pp
          )
        )
      }
      if let tg = r.decodeTokensPerSecond {
        report(
          Figure(
            key: "peer_\(type)_tg",
            text: "llama.cpp \(type.uppercased()) tg\(N)",
            value: tg,
            unit: "tok/s",
            against: "PERFORMANCE.md \(ref.tg) (machine state check)",
            ratio: tg / ref.tg
          )
        )
        report(
          Figure(
            key: "ratio_decode_vs_\(type)",
            text: "rlhfd/llama.cpp decode (\(type.uppercased()))",
            value: decodeTokS,
            unit: "tok/s",
            against: "\(fmt(tg, 2)) tok/s",
            ratio: decodeTokS / tg
          )
        )
      }
      peers[type] = [
        "pp_tokens_per_second": r.prefillTokensPerSecond.map { $0 as Any } ?? NSNull(),
        "tg_tokens_per_second": r.decodeTokensPerSecond.map { $0 as Any } ?? NSNull(),
        "wall_seconds": r.seconds,
      ]
    }
  } else {
    print("peer: not run (no --peer/--gguf-dir)")
  }
  json["peer_llama_cpp"] = peers

  // MARK: limits again: the host is shared, so show how much they moved during the run
  let sgemmEnd = Limits.sgemm(M: 512, N: 5632, K: 2048)
  let bandwidthEnd = Limits.readBandwidth()
  print(
    "LIMITS  at end: sgemm 2048→5632 \(fmt(sgemmEnd, 1)) GFLOP/s (start \(fmt(sgemmWide, 1))), read \(fmt(bandwidthEnd, 1)) GB/s (start \(fmt(measuredBandwidth, 1)))"
  )
  json["limits_measured_end"] = ["sgemm_gflops_512x5632x2048": sgemmEnd, "read_gb_s": bandwidthEnd]

  // MARK: table + JSON
  print("\n| figure | value | held against | ratio |\n|---|---|---|---|")
  for f in figures {
    print(
      "| \(f.text) | \(fmt(f.value, f.value < 10 ? 3 : 1)) \(f.unit) | \(f.against) | \(f.ratio.map { fmt($0, 3) } ?? "–") |"
    )
  }
  json["load_average_end"] = ProcStatus.loadAverage
  json["cpu_pressure_avg10_end"] = ProcStatus.cpuPressure
  print(
    "load average at end: \(ProcStatus.loadAverage), cpu pressure avg10 \(ProcStatus.cpuPressure) %"
  )
  json["figures"] = figures.map {
    [
      "key": $0.key, "value": $0.value, "unit": $0.unit, "against": $0.against,
      "ratio": $0.ratio.map { $0 as Any } ?? NSNull(),
    ]
  }
  if let path = options.jsonPath {
    let data = try JSONSerialization.data(
      withJSONObject: json,
      options: [.prettyPrinted, .sortedKeys]
    )
    try data.write(to: URL(fileURLWithPath: path))
    print("wrote \(path)")
  }
} catch {
  print("EngineBench failed: \(error)")
  exit(1)
}
