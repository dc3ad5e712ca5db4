// Interleaved rounds: rlhfd's phase, then the peer's on the same work, then the next phase, for
// several rounds (ABAB…), every figure summarised the same way for both sides: the median of the
// rounds, with min and max. A host that slows down for a minute then costs both sides alike.
import Foundation

struct Stat {
  var samples: [Double]
  var median: Double { samples.isEmpty ? .nan : EngineBench.median(samples) }
  var min: Double { samples.min() ?? .nan }
  var max: Double { samples.max() ?? .nan }

  /// "12.3 (min 11.0, max 13.1, n 3)"
  func text(_ digits: Int = 2) -> String {
    "\(fmt(median, digits)) (min \(fmt(min, digits)), max \(fmt(max, digits)), n \(samples.count))"
  }

  var json: [String: Any] {
    ["median": median, "min": min, "max": max, "samples": samples]
  }
}

/// Samples by key ("rlhfd_fp32_pp_tok_s", "peer_f16_tg_tok_s", …), in the order they were added.
final class Samples {
  private(set) var keys: [String] = []
  private var values: [String: [Double]] = [:]

  func add(_ key: String, _ value: Double) {
    if values[key] == nil { keys.append(key) }
    values[key, default: []].append(value)
    print("SAMPLE  \(key) \(fmt(value, 3))")
  }

  func stat(_ key: String) -> Stat? { values[key].map { Stat(samples: $0) } }

  var json: [String: Any] {
    Dictionary(uniqueKeysWithValues: keys.map { ($0, stat($0)!.json) })
  }
}

/// The llama.cpp side of a round: one `llama-bench -r 1` per figure and type (its own warm-up
/// run first), skipped with a reason when the binary or a GGUF is missing.
struct PeerSide {
  var binary: String
  var models: [String: String]  // type ("f16", "bf16") → GGUF path

  static func make(binary: String?, ggufDirectory: String?) -> (PeerSide?, String) {
    guard let binary, let dir = ggufDirectory else {
      return (nil, "peer not run: no --peer/--gguf-dir (engine.sh --no-peer, or a smoke run)")
    }
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      return (nil, "peer not run: \(binary) is missing (Benchmarks/llama-cpp/build.sh builds it)")
    }
    var models: [String: String] = [:]
    for type in ["f16", "bf16"] {
      let path = "\(dir)/tinyllama-\(type).gguf"
      if FileManager.default.fileExists(atPath: path) { models[type] = path }
    }
    guard !models.isEmpty else { return (nil, "peer not run: no GGUF in \(dir)") }
    return (
      PeerSide(binary: binary, models: models),
      "peer: \(binary), types \(models.keys.sorted().joined(separator: ", "))"
    )
  }

  var types: [String] { ["f16", "bf16"].filter { models[$0] != nil } }

  /// Tokens/s of one prefill (`prefill` > 0) or one decode (`decode` > 0) run.
  func once(type: String, prefill: Int, decode: Int) throws -> Double {
    let r = try Peer.run(
      binary: binary,
      model: models[type]!,
      prefill: prefill,
      decode: decode,
      runs: 1
    )
    guard let ts = prefill > 0 ? r.prefillTokensPerSecond : r.decodeTokensPerSecond else {
      throw BenchError("llama-bench gave no figure for \(type) p\(prefill) n\(decode)")
    }
    return ts
  }
}
