import Checkpoints
import Foundation
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct GenerationTests {
  static func reference(_ name: String, _ key: String) throws -> (tokens: [Int32], new: [Int32]) {
    let cases = try Fixtures.json("policy.json")["cases"] as? [String: Any]
    let entry = cases?[name] as? [String: Any]
    let greedy = entry?[key] as? [String: Any]
    return (Fixtures.ints(entry?["input_ids"]), Fixtures.ints(greedy?["new_tokens"]))
  }

  @Test(arguments: ["image", "text"], ["greedy", "greedy_ignore_eos"])
  func greedyContinuationMatchesTransformers(_ name: String, _ key: String) throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let (tokens, expected) = try Self.reference(name, key)
    let image = name == "image" ? try model.imageEmbeddings(pixels: try Fixtures.pixels()) : nil
    let eos: Set<Int32> = key == "greedy" ? [2] : []
    let generated = try model.generateGreedy(
      tokens: tokens,
      imageEmbeddings: image,
      maxNewTokens: 12,
      eosTokenIds: eos
    )
    #expect(generated == expected)
  }

  @Test func greedyStopsAfterEOS() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let (tokens, expected) = try Self.reference("text", "greedy_ignore_eos")
    // Treat the fourth reference token as EOS: generation must stop right after emitting it.
    let generated = try model.generateGreedy(
      tokens: tokens,
      maxNewTokens: 12,
      eosTokenIds: [expected[3]]
    )
    #expect(generated == Array(expected[...3]))
  }

  @Test func layoutVariantsGreedyTokens() throws {
    let layouts = try Fixtures.json("layouts.json")["variants"] as? [String: Any] ?? [:]
    for variant in ["v5-float16", "v5-bfloat16", "hub-mha-float16"] {
      let expected = Fixtures.ints((layouts[variant] as? [String: Any])?["greedy_ignore_eos"])
      let model = LlavaModel(
        weights: try LlavaWeights(directory: Fixtures.path("layouts/" + variant))
      )
      let (tokens, _) = try Self.reference("image", "greedy")
      let generated = try model.generateGreedy(
        tokens: tokens,
        imageEmbeddings: try model.imageEmbeddings(pixels: try Fixtures.pixels()),
        maxNewTokens: 12
      )
      #expect(generated == expected, "\(variant)")
    }
  }

  @Test func seededSamplingIsReproducible() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let (tokens, greedy) = try Self.reference("text", "greedy_ignore_eos")
    let sampling = SamplingParameters(temperature: 0.9, topK: 50, topP: 0.95, seed: 11)
    let first = try model.generate(tokens: tokens, maxNewTokens: 12, sampling: sampling)
    let second = try model.generate(tokens: tokens, maxNewTokens: 12, sampling: sampling)
    #expect(first == second)
    #expect(first.count == 12)
    #expect(first.allSatisfy { $0.logprob <= 0 && $0.logprob.isFinite })
    let viaSampler = try model.generate(tokens: tokens, maxNewTokens: 12, sampling: .greedy)
    #expect(viaSampler.map(\.token) == greedy)
  }
}
