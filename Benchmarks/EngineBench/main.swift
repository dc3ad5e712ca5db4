// EngineBench: the CPU/BLAS engine on TinyLlama-1.1B text shapes (bf16 weights) and a CLIP
// ViT-L/14-336 vision tower, loaded with `LlavaWeights` exactly as the daemon loads it, against
// llama.cpp's llama-bench on the same shapes, interleaved: each round runs rlhfd's prefill (every
// precision), then the peer's (every GGUF type), then the same for batch-1 decode; medians over
// the rounds for both sides. The limits (sgemm ceiling, read bandwidth) are measured at the start
// and at the end; the report (Goals.swift) names the CPU and kernels and judges issue 10's goals.
// Entry point: Benchmarks/engine.sh.
import BenchSupport
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

var json: [String: Any] = [:]

@MainActor func rssLine(_ phase: String) {
  print(
    "RSS     after \(phase) (cpu pressure avg10 \(ProcStatus.cpuPressure) %): peak (VmHWM) \(gb(ProcStatus.peakRSS)), now \(gb(ProcStatus.rss)) (file-backed \(gb(ProcStatus.rssFile)), anonymous \(gb(ProcStatus.rssAnon)))"
  )
  json["peak_rss_gb_after_\(phase)"] = Double(ProcStatus.peakRSS) / 1e9
}

/// The limits now: small problems in a smoke run (the figures are then meaningless).
@MainActor func measureLimits(_ when: String) -> LimitReading {
  Limits.measure(when, small: options.smoke)
}

if options.limitsOnly {  // serving.sh, before and after its rounds
  let r = measureLimits("now")
  if let path = options.jsonPath {
    let data = try JSONSerialization.data(withJSONObject: [
      "sgemm": r.sgemm, "bandwidth": r.bandwidth,
    ])
    try data.write(to: URL(fileURLWithPath: path))
  }
  exit(0)
}

do {
  let host = BenchHost.current(machineState: options.machineState)
  print("EngineBench: CPU \(host.line)")
  print("EngineBench: kernels \(host.kernels)")
  print(
    "EngineBench: load average \(ProcStatus.loadAverage), cpu pressure avg10 \(ProcStatus.cpuPressure) %; \(options.rounds) rounds\(options.smoke ? " (smoke: tiny sizes, figures meaningless)" : "")"
  )
  json["load_average_start"] = ProcStatus.loadAverage
  let start = measureLimits("at start")
  ProcStatus.resetPeak()

  // MARK: models, one per precision (bf16 only where the CPU has bf16 instructions)
  let directory = options.modelDirectory ?? options.cacheDirectory
  if options.modelDirectory == nil {
    let t0 = Clock.now()
    if try BenchCheckpoint.ensure(directory: directory) {
      print("checkpoint written to \(directory) in \(fmt(Clock.now() - t0, 1)) s")
    }
  }
  if options.trainingOnly {
    var results: [String: Any] = [:]
    for (name, path) in [("tiny", options.trainingTiny), ("model", directory)] {
      guard let path else { continue }
      results[name] = try TrainingBench.run(
        weights: try LlavaWeights(directory: path, precision: .fp32),
        tokens: options.trainingTokens,
        rank: options.smoke ? 4 : 64,
        rounds: options.rounds,
        keepAttention: !options.trainingRecompute,
        transposed: options.trainingTransposed
      )
    }
    json["training"] = results
    rssLine("training")
    if let path = options.jsonPath {
      let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
      try data.write(to: URL(fileURLWithPath: path))
    }
    exit(0)
  }
  if options.loraOnly {
    var results: [String: Any] = [:]
    for precision in options.precisions where precision == .fp32 || host.hasBF16 {
      let weights = try LlavaWeights(directory: directory, precision: precision)
      results[precision.rawValue] = try LoRABench.run(
        weights: weights,
        rows: 32,
        versions: 4,
        rank: options.smoke ? 4 : 64,
        steps: options.loraSteps,
        rounds: options.rounds,
        dtype: options.loraDType
      )
    }
    json["lora"] = results
    rssLine("lora")
    _ = measureLimits("at end")
    if let path = options.jsonPath {
      let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
      try data.write(to: URL(fileURLWithPath: path))
    }
    exit(0)
  }
  var phases: [Phases] = []
  for precision in options.precisions {
    if precision == .bf16 && !host.hasBF16 {
      print("precision bf16 skipped: this CPU has neither AVX512-BF16 nor AMX")
      continue
    }
    let t0 = Clock.now()
    let weights = try LlavaWeights(directory: directory, precision: precision)
    phases.append(
      Phases(
        weights: weights,
        precision: precision,
        prefill: options.prefillTokens,
        prompt: options.promptTokens
      )
    )
    print(
      "loaded \(directory) (\(weights.checkpoint.layout)), precision \(precision) in \(fmt(Clock.now() - t0, 2)) s"
    )
  }
  guard let first = phases.first else { throw BenchError("no precision to run") }
  rssLine("load")
  var (peer, peerNote) = PeerSide.make(
    binary: options.peerBinary,
    ggufDirectory: options.ggufDirectory
  )
  print(peerNote)
  var (imagePeer, imagePeerNote) = ImagePeer.make(
    llamaBench: options.peerBinary,
    ggufDirectory: options.ggufDirectory,
    image: options.peerImage
  )
  if options.skipVision { (imagePeer, imagePeerNote) = (nil, "image peer not run: --no-vision") }
  print(imagePeerNote)
  if let side = imagePeer { _ = try? side.once() }  // its warm-up
  if options.imageOnly {
    try ImageOnly.run(
      phases: phases,
      peer: imagePeer,
      rounds: options.rounds,
      breakdown: !options.skipBreakdown
    )
    exit(0)
  }

  // MARK: warm-up, then the interleaved rounds
  let (T, N) = (options.prefillTokens, options.decodeTokens)
  for ph in phases {
    print(
      "warm-up \(ph.precision.rawValue): prefill \(T), decode \(min(N, 32))\(options.skipVision ? "" : ", image encode")"
    )
    _ = try ph.prefill()
    _ = try ph.decode(min(N, 32))
    if !options.skipVision { _ = try ph.encode() }
  }
  let samples = Samples()
  let peerTypes = peer?.types ?? []
  // A peer that fails (its binary gone, a crash) is dropped, and the run goes on without it.
  func runPeer(_ figure: String, prefill: Int, decode: Int, round: Int) {
    guard let side = peer else { return }
    for t in side.types {
      do {
        samples.add("peer_\(t)_\(figure)", try side.once(type: t, prefill: prefill, decode: decode))
      } catch {
        peerNote = "peer FAILED in round \(round) (\(t), \(figure)): \(error); dropped from then on"
        print(peerNote)
        peer = nil
        return
      }
    }
  }
  for round in 1...options.rounds {
    print(
      "ROUND   \(round)/\(options.rounds): load average \(ProcStatus.loadAverage), cpu pressure avg10 \(ProcStatus.cpuPressure) %"
    )
    for ph in phases { samples.add("rlhfd_\(ph.precision.rawValue)_pp_tok_s", try ph.prefill()) }
    runPeer("pp_tok_s", prefill: T, decode: 0, round: round)
    for ph in phases { samples.add("rlhfd_\(ph.precision.rawValue)_tg_tok_s", try ph.decode(N)) }
    runPeer("tg_tok_s", prefill: 0, decode: N, round: round)
    if !options.skipVision {
      for ph in phases {
        samples.add("rlhfd_\(ph.precision.rawValue)_image_encode_s", try ph.encode())
      }
      if let side = imagePeer {
        do { samples.add("peer_f16_image_encode_s", try side.once()) } catch {
          imagePeerNote = "image peer FAILED in round \(round): \(error); dropped from then on"
          print(imagePeerNote)
          imagePeer = nil
        }
      }
    }
  }
  rssLine("rounds")
  let end = measureLimits("at end")

  if !options.skipBreakdown {
    Breakdowns.run(phases.last!, into: &json, vision: !options.skipVision)
  }

  // MARK: report
  let report = GoalReport(
    host: host,
    start: start,
    end: end,
    samples: samples,
    precisions: phases.map { $0.precision.rawValue },
    peerTypes: peerTypes,
    peerNote: peerNote,
    flopsPerToken: first.prefillFlops(T) / Double(T),
    decodeBytes: first.decodeBytes,
    prefillTokens: T,
    decodeTokens: N
  )
  let smokeNote =
    "SMOKE run (tiny model, tiny limit probes): the figures and verdicts mean nothing\n"
  let text = (options.smoke ? smokeNote : "") + report.text
  print("\n" + text)
  print(
    "load average at end: \(ProcStatus.loadAverage), cpu pressure avg10 \(ProcStatus.cpuPressure) %"
  )
  json["load_average_end"] = ProcStatus.loadAverage
  json["report"] = report.json
  json["prefill_gflop_per_token"] = first.prefillFlops(T) / Double(T) / 1e9
  json["image_encode_gflop"] = first.encodeFlops / 1e9
  if let path = options.reportPath {
    try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
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
