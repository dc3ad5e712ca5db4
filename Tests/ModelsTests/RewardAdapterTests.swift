// Reward-model adapters with a trained score head (PEFT `modules_to_save: ["score"]`): the
// fixture PEFT wrote (tools/reference/make_reward_adapter_fixture.py) loads and scores as torch
// does, written adapters keep the head, and a policy base refuses such an adapter.
import Checkpoints
import Foundation
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct RewardAdapterTests {
  static let directory = Fixtures.path("lora/reward-adapter")

  static func reference() throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("lora/reward-adapter.json")))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  @Test func peftFixtureLoadsAndScoresAsTorch() throws {
    let weights = try LlavaWeights(directory: Fixtures.path("tiny-llava-reward"))
    let file = try LoRAAdapter(directory: Self.directory)
    #expect(file.config.modulesToSave == ["score"])
    let head = try #require(file.head)
    #expect(head.weight.count == weights.config.text.hiddenSize)
    #expect(head.bias == 0.25)
    try file.validate(against: weights.checkpoint)
    let adapter = try DecoderAdapter(adapter: file, base: weights, directory: Self.directory)
    #expect(adapter.pairs.count == 8)
    let model = RewardModel(weights: weights)
    let sequences = try #require(try Self.reference()["sequences"] as? [[String: Any]])
    #expect(sequences.count == 2)
    var worst: Float = 0
    for sequence in sequences {
      let tokens = Fixtures.ints(sequence["tokens"])
      let expected = Float(try #require(sequence["score"] as? Double))
      let base = Float(try #require(sequence["base_score"] as? Double))
      let served = try model.score(tokens: tokens, adapter: adapter, head: head)
      worst = max(worst, abs(served - expected) / max(1, abs(expected)))
      #expect(abs(try model.score(tokens: tokens) - base) <= 1e-4 * max(1, abs(base)))
    }
    print("reward adapter scores vs torch + PEFT: max relative |Δ| = \(worst)")
    #expect(worst <= 1e-4)
  }

  @Test func writtenAdaptersKeepTheHead() throws {
    let weights = try LlavaWeights(directory: Fixtures.path("tiny-llava-reward"))
    let file = try LoRAAdapter(directory: Self.directory)
    let adapter = try DecoderAdapter(adapter: file, base: weights)
    let target = NSTemporaryDirectory() + "rlhfd-reward-adapter-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: target) }
    try adapter.write(to: target, head: file.head)
    let again = try LoRAAdapter(directory: target)
    #expect(again.config.modulesToSave == ["score"])
    #expect(again.head == file.head)
    #expect(
      try DecoderAdapter(adapter: again, base: weights).pairs.map(\.a) == adapter.pairs.map(\.a)
    )
    // Without a head the config says modules_to_save null and no head is read.
    let plain = target + "-plain"
    defer { try? FileManager.default.removeItem(atPath: plain) }
    try adapter.write(to: plain)
    #expect(try LoRAAdapter(directory: plain).head == nil)
  }

  @Test func aPolicyBaseRefusesAScoreHead() throws {
    let policy = try Fixtures.policy.get()
    do {
      _ = try DecoderAdapter(directory: Self.directory, base: policy)
      Issue.record("a policy loaded an adapter with modules_to_save")
    } catch {
      #expect("\(error)".contains("modules_to_save"))
      #expect("\(error)".contains("policy adapter"))
    }
  }
}
