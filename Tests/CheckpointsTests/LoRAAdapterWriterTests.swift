// Writing PEFT adapters: write → parse back gives the same tensors and config; an existing
// target is refused; nothing is left behind beside the target.
import Checkpoints
import Foundation
import Testing

@Suite struct LoRAAdapterWriterTests {
  static func scratch() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rlhfd-writer-\(UInt32.random(in: 0...UInt32.max))"
    )
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    return url
  }

  static let pairs = [
    LoRAWeightPair(
      module: "model.language_model.layers.0.self_attn.q_proj",
      a: (0..<16).map { Float($0) * 0.25 - 1 },
      b: (0..<12).map { Float($0) * -0.125 + 0.3 },
      rank: 2,
      inFeatures: 8,
      outFeatures: 6
    ),
    LoRAWeightPair(
      module: "model.language_model.layers.1.mlp.down_proj",
      a: (0..<12).map { Float($0).squareRoot() },
      b: (0..<8).map { -Float($0) },
      rank: 2,
      inFeatures: 6,
      outFeatures: 4
    ),
  ]

  @Test func writeThenParseGivesTheSameAdapter() throws {
    let parent = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: parent) }
    var config = LoRAAdapterConfig(
      rank: 2,
      alpha: 5,
      targetModules: .pattern(
        #".*language_model\.layers\.(0|1)\.(self_attn|mlp)\.(q_proj|down_proj)"#
      ),
      useRSLoRA: true
    )
    config.baseModelNameOrPath = "base \"quoted\""
    let target = parent.appendingPathComponent("v1").path
    try LoRAAdapterWriter.write(config: config, pairs: Self.pairs, to: target)
    let adapter = try LoRAAdapter(directory: target)
    var expected = config
    expected.fanInFanOut = false
    #expect(adapter.config == expected)
    #expect(adapter.deltas.count == 2)
    for pair in Self.pairs {
      let delta = try #require(adapter.deltas.first { $0.module == pair.module })
      #expect(try delta.a.floats() == pair.a)
      #expect(try delta.b.floats() == pair.b)
      #expect(delta.a.shape == [2, pair.inFeatures] && delta.b.shape == [pair.outFeatures, 2])
      #expect(delta.scale == Float(5 / 2.0.squareRoot()))
    }
    // Only the target is left in the parent (the temporary directory was renamed).
    #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["v1"])
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: target).sorted() == [
        "adapter_config.json", "adapter_model.safetensors",
      ]
    )
  }

  @Test func anExistingTargetIsAnError() throws {
    let parent = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: parent) }
    let target = parent.appendingPathComponent("v1").path
    let config = LoRAAdapterConfig(rank: 2, alpha: 4, targetModules: .names(["q_proj"]))
    try LoRAAdapterWriter.write(config: config, pairs: Array(Self.pairs.prefix(1)), to: target)
    let before = try Data(contentsOf: URL(fileURLWithPath: target + "/adapter_model.safetensors"))
    #expect(throws: CheckpointError.self) {
      try LoRAAdapterWriter.write(config: config, pairs: Self.pairs, to: target)
    }
    // An empty directory is not replaced either.
    let empty = parent.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: false)
    #expect(throws: CheckpointError.self) {
      try LoRAAdapterWriter.write(config: config, pairs: Self.pairs, to: empty.path)
    }
    let after = try Data(contentsOf: URL(fileURLWithPath: target + "/adapter_model.safetensors"))
    #expect(before == after)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: parent.path).sorted() == ["empty", "v1"]
    )
  }

  @Test func badPairsAndMissingParentsAreErrors() throws {
    let parent = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: parent) }
    var bad = Self.pairs[0]
    bad.a.removeLast()
    let config = LoRAAdapterConfig(rank: 2, alpha: 4, targetModules: .names(["q_proj"]))
    #expect(throws: CheckpointError.self) {
      try LoRAAdapterWriter.write(config: config, pairs: [bad], to: parent.path + "/x")
    }
    #expect(throws: CheckpointError.self) {
      try LoRAAdapterWriter.write(config: config, pairs: Self.pairs, to: parent.path + "/no/such")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
  }
}
