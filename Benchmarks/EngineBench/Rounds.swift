// Interleaved rounds: rlhfd's phase, then the peer's on the same work, then the next phase, for
// several rounds (ABAB…), every figure summarised the same way for both sides (`Samples`,
// Benchmarks/BenchSupport): the median of the rounds, with min and max. A host that slows down
// for a minute then costs both sides alike.
import BenchSupport
import Foundation

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
