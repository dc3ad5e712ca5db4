import Checkpoints
import Foundation
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct RewardTests {
  @Test func scoresMatchTransformers() throws {
    let weights = try LlavaWeights(directory: Fixtures.path("tiny-llava-reward"))
    #expect(weights.head == .reward)
    let model = RewardModel(weights: weights)
    let image = try model.imageEmbeddings(pixels: try Fixtures.pixels())
    let cases = try Fixtures.json("reward.json")["cases"] as? [[String: Any]] ?? []
    #expect(cases.count == 3)
    let expected = try Fixtures.floats("reward.safetensors", "scores")
    var worst: Float = 0
    for (index, entry) in cases.enumerated() {
      let score = try model.score(tokens: Fixtures.ints(entry["input_ids"]), imageEmbeddings: image)
      worst = max(worst, abs(score - expected[index]))
    }
    print("reward scores: max |Δ| = \(worst)")
    #expect(worst <= 1e-4)
  }
}
