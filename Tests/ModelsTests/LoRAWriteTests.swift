// Saving a version as a PEFT adapter directory: write → load back is the same adapter (same
// logits); and the bytes equal Tests/Fixtures/lora/written-a, which PEFT loaded and checked
// against its own logits (tools/reference/make_lora_fixtures.py check, recorded in
// written-a.peft-check.json). RLHFD_LORA_WRITE_FIXTURE=1 (re)creates that directory.
import Checkpoints
import Engine
import Foundation
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct LoRAWriteTests {
  static let base = "Tests/Fixtures/tiny-llava-policy"

  @Test func writeThenLoadIsTheSameVersion() throws {
    let weights = try Fixtures.policy.get()
    let adapter = try LoRAFixtures.adapter("adapter-a", base: weights)
    let parent = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rlhfd-save-\(UInt32.random(in: 0...UInt32.max))"
    )
    try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(at: parent) }
    let target = parent.appendingPathComponent("version-1").path
    try adapter.write(to: target, baseModelNameOrPath: Self.base)
    let reloaded = try DecoderAdapter(directory: target, base: weights)
    #expect(reloaded.config.rank == adapter.config.rank)
    #expect(reloaded.config.scale == adapter.config.scale)
    #expect(reloaded.pairs.map(\.a) == adapter.pairs.map(\.a))
    #expect(reloaded.pairs.map(\.b) == adapter.pairs.map(\.b))
    let language = LanguageModel(weights: weights)
    let tokens = try DecoderTests.inputIds("text")
    var first = language.makeCache()
    var second = language.makeCache()
    let expected = try language.forward(tokens: tokens, cache: &first, adapter: adapter)
    #expect(try language.forward(tokens: tokens, cache: &second, adapter: reloaded) == expected)
    // Saving twice to the same place is an error; the first copy stays.
    #expect(throws: ModelError.self) { try adapter.write(to: target) }
    // The same bytes as the directory PEFT was checked on.
    let fixture = Fixtures.path("lora/written-a")
    if ProcessInfo.processInfo.environment["RLHFD_LORA_WRITE_FIXTURE"] == "1" {
      try? FileManager.default.removeItem(atPath: fixture)
      try adapter.write(to: fixture, baseModelNameOrPath: Self.base)
    }
    for name in [LoRAAdapter.configFileName, LoRAAdapter.weightsFileName] {
      let written = try Data(contentsOf: URL(fileURLWithPath: target + "/" + name))
      let committed = try Data(contentsOf: URL(fileURLWithPath: fixture + "/" + name))
      #expect(written == committed, "\(name) differs from Tests/Fixtures/lora/written-a")
    }
    let check = try Fixtures.json("../lora/written-a.peft-check.json")
    let diff = try #require((check["max_abs_diff"] as? NSNumber)?.floatValue)
    #expect(diff <= 1e-4)
  }
}
