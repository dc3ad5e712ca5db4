import Checkpoints
import Engine
import Models
import Testing

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct DecoderTests {
  static func inputIds(_ name: String) throws -> [Int32] {
    let cases = try Fixtures.json("policy.json")["cases"] as? [String: Any]
    return Fixtures.ints((cases?[name] as? [String: Any])?["input_ids"])
  }

  /// All-position logits of the image case for a checkpoint directory.
  static func imageLogits(_ model: LlavaModel) throws -> [Float] {
    let image = try model.imageEmbeddings(pixels: try Fixtures.pixels())
    var cache = model.language.makeCache()
    return try model.prefill(
      tokens: try inputIds("image"),
      imageEmbeddings: image,
      cache: &cache,
      allPositions: true
    )
  }

  @Test func imageCaseLogitsMatchTransformers() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let logits = try Self.imageLogits(model)
    let delta = maxAbsDiff(logits, try Fixtures.floats("policy.safetensors", "image.logits"))
    print("image logits: max |Δ| = \(delta)")
    #expect(delta <= 1e-4)
  }

  @Test func textCaseLogitsAndHiddenMatchTransformers() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let tokens = try Self.inputIds("text")
    var cache = model.language.makeCache()
    let logits = try model.prefill(tokens: tokens, cache: &cache, allPositions: true)
    let delta = maxAbsDiff(logits, try Fixtures.floats("policy.safetensors", "text.logits"))
    print("text logits: max |Δ| = \(delta)")
    #expect(delta <= 1e-4)
    var fresh = model.language.makeCache()
    let hidden = try model.language.finalHidden(tokens: tokens, cache: &fresh)
    let hiddenDelta = maxAbsDiff(
      hidden,
      try Fixtures.floats("policy.safetensors", "text.final_hidden")
    )
    print("text final hidden: max |Δ| = \(hiddenDelta)")
    #expect(hiddenDelta <= 1e-4)
  }

  @Test func incrementalDecodeEqualsFullPass() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    let tokens = try Self.inputIds("image")
    let image = try model.imageEmbeddings(pixels: try Fixtures.pixels())
    var full = model.language.makeCache()
    let all = try model.prefill(
      tokens: tokens,
      imageEmbeddings: image,
      cache: &full,
      allPositions: true
    )
    let split = 72  // after the image: the rest goes one token at a time
    var cache = model.language.makeCache(capacity: tokens.count)
    var rows = try model.prefill(
      tokens: Array(tokens[..<split]),
      imageEmbeddings: image,
      cache: &cache,
      allPositions: true
    )
    for token in tokens[split...] { rows += try model.decode(token: token, cache: &cache) }
    #expect(cache.count == tokens.count)
    let delta = maxAbsDiff(rows, all)
    print("incremental vs full: max |Δ| = \(delta)")
    #expect(delta <= 1e-5)
  }

  @Test func imageTokenCountMustMatchFeatureRows() throws {
    let model = LlavaModel(weights: try Fixtures.policy.get())
    var cache = model.language.makeCache()
    let tokens = try Self.inputIds("image")
    #expect(throws: ModelError.imageTokenCountMismatch(tokens: 16, features: 0)) {
      try model.prefill(tokens: tokens, cache: &cache)
    }
    #expect(throws: ModelError.imageTokenCountMismatch(tokens: 0, features: 1)) {
      try model.prefill(
        tokens: [1, 2],
        imageEmbeddings: [Float](repeating: 0, count: 64),
        cache: &cache
      )
    }
    #expect(throws: ModelError.tokenOutOfRange(token: 700, vocabulary: 641)) {
      try model.prefill(tokens: [1, 700], cache: &cache)
    }
    #expect(throws: ModelError.imageFeatureWidthMismatch(width: 64, count: 65)) {
      try model.prefill(
        tokens: [1, 640],
        imageEmbeddings: [Float](repeating: 0, count: 65),
        cache: &cache
      )
    }
    var small = model.language.makeCache(capacity: 4)
    #expect(throws: ModelError.contextOverflow(needed: 5, capacity: 4)) {
      try model.prefill(tokens: [1, 2, 3, 4, 5], cache: &small)
    }
    #expect(throws: ModelError.emptyInput) { try model.prefill(tokens: [], cache: &cache) }
    #expect(cache.count == 0)
  }

  static let sameAsPolicy = ["v4-names", "v4-sparse-config", "v5-module-names", "v5-sharded"]
  static let ownReference = ["v5-float16", "v5-bfloat16", "hub-mha-float16"]

  @Test(arguments: sameAsPolicy + ownReference)
  func layoutVariantGivesItsReferenceLogits(_ variant: String) throws {
    let weights = try LlavaWeights(directory: Fixtures.path("layouts/" + variant))
    let logits = try Self.imageLogits(LlavaModel(weights: weights))
    let expected =
      Self.ownReference.contains(variant)
      ? try Fixtures.floats("layouts.safetensors", variant + ".logits")
      : try Fixtures.floats("policy.safetensors", "image.logits")
    let delta = maxAbsDiff(logits, expected)
    print("layout \(variant): max |Δ| = \(delta)")
    #expect(delta <= 1e-4)
  }
}
