// Writes a llava-hf (hub layout) checkpoint with deterministic random bf16 weights of
// TinyLlama-1.1B text shapes and a CLIP ViT-L/14-336 vision tower: `config.json` and one
// `model.safetensors` (~2.9 GB). The tensor list and shapes come from the project's own
// `LlavaWeightNames.expected(for:head:)`, spelled with `LlavaLayout.hub`. Written once into the
// cache directory and reused while its marker matches.
import BenchSupport
import Checkpoints
import Foundation
import Glibc

enum BenchCheckpoint {
  static let marker = "engine-bench tinyllama-1.1b + clip-vit-l/14-336, bf16, hub layout, v1"

  static let configJSON = """
    {
      "architectures": ["LlavaForConditionalGeneration"],
      "model_type": "llava",
      "image_token_index": 32000,
      "projector_hidden_act": "gelu",
      "vision_feature_layer": -2,
      "vision_feature_select_strategy": "default",
      "image_seq_length": 576,
      "text_config": {
        "model_type": "llama",
        "vocab_size": 32000,
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 22,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0
      },
      "vision_config": {
        "model_type": "clip_vision_model",
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "image_size": 336,
        "patch_size": 14,
        "hidden_act": "quick_gelu",
        "projection_dim": 768
      }
    }
    """

  /// Makes `directory` hold the checkpoint; returns whether it was (re)written.
  static func ensure(directory: String) throws -> Bool {
    let fm = FileManager.default
    let markerPath = directory + "/bench-marker.txt"
    if let existing = try? String(contentsOfFile: markerPath, encoding: .utf8),
      existing == marker,
      fm.fileExists(atPath: directory + "/model.safetensors"),
      fm.fileExists(atPath: directory + "/config.json")
    {
      return false
    }
    try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try? fm.removeItem(atPath: markerPath)
    let config = try LlavaConfig.decode(Array(configJSON.utf8))
    let tensors = LlavaWeightNames.expected(for: config, head: .languageModel)
      .compactMap { t -> (String, [Int])? in
        guard let shape = t.shape else { return nil }  // buffers (inv_freq, position_ids)
        return (LlavaLayout.hub.name(forCanonical: t.name), shape)
      }
    try write(tensors: tensors, to: directory + "/model.safetensors")
    try configJSON.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
    try marker.write(toFile: markerPath, atomically: true, encoding: .utf8)
    return true
  }

  /// Norm weights are 1, biases 0, everything else uniform with std 0.02.
  static func write(tensors: [(String, [Int])], to path: String) throws {
    var header = "{\"__metadata__\":{\"format\":\"pt\"}"
    var offset = 0
    for (name, shape) in tensors {
      let bytes = shape.reduce(1, *) * 2
      header +=
        ",\"\(name)\":{\"dtype\":\"BF16\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],"
      header += "\"data_offsets\":[\(offset),\(offset + bytes)]}"
      offset += bytes
    }
    header += "}"
    while (8 + header.utf8.count) % 64 != 0 { header += " " }
    let tmp = path + ".tmp"
    guard let file = fopen(tmp, "wb") else { throw BenchError("cannot create \(tmp)") }
    var length = UInt64(header.utf8.count).littleEndian
    fwrite(&length, 8, 1, file)
    _ = header.withCString { fwrite($0, 1, header.utf8.count, file) }
    let chunk = 1 << 22
    let buffer = UnsafeMutablePointer<UInt16>.allocate(capacity: chunk)
    defer { buffer.deallocate() }
    let scale = Float(0.02 * 3.0.squareRoot())
    for (index, (name, shape)) in tensors.enumerated() {
      let count = shape.reduce(1, *)
      var rng = SplitMix(state: UInt64(index) &* 0x1234_5678_9ABC_DEF1 &+ 42)
      let isNormWeight =
        shape.count == 1 && name.hasSuffix(".weight")
        && (name.contains("norm") || name.contains("layrnorm"))
      let isBias = name.hasSuffix(".bias")
      var done = 0
      while done < count {
        let n = min(chunk, count - done)
        if isNormWeight {
          buffer.update(repeating: 0x3F80, count: n)  // 1.0
        } else if isBias {
          buffer.update(repeating: 0, count: n)
        } else {
          var i = 0
          while i < n {
            let r = rng.next()
            for j in 0..<min(4, n - i) {
              // 16 random bits → uniform in [-scale, scale) → bf16 (truncated).
              let u = Float(UInt16(truncatingIfNeeded: r >> (16 * UInt64(j)))) * (1 / 65536)
              let x = (u * 2 - 1) * scale
              buffer[i + j] = UInt16(truncatingIfNeeded: x.bitPattern >> 16)
            }
            i += 4
          }
        }
        guard fwrite(buffer, 2, n, file) == n else {
          fclose(file)
          throw BenchError("short write to \(tmp)")
        }
        done += n
      }
    }
    guard fclose(file) == 0 else { throw BenchError("close \(tmp) failed") }
    guard rename(tmp, path) == 0 else { throw BenchError("rename \(tmp) failed") }
  }
}

struct BenchError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
