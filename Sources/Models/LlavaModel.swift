// The LLaVA policy: vision tower → projector → language model with the LM head, and greedy
// decoding over a KV cache (prefill the prompt, then one token at a time).
import Checkpoints
import Engine

/// A generative LLaVA model over shared base weights.
public struct LlavaModel: Sendable {
  public let weights: LlavaWeights
  public let vision: VisionTower
  public let projector: Projector
  public let language: LanguageModel

  public init(weights: LlavaWeights) {
    self.weights = weights
    vision = VisionTower(weights: weights)
    projector = Projector(weights: weights)
    language = LanguageModel(weights: weights)
  }

  /// The rows an image contributes to the prompt, `(N, C)` language-model embeddings.
  public func imageEmbeddings(pixels: [Float]) throws(ModelError) -> [Float] {
    projector.forward(features: try vision.features(pixels: pixels))
  }

  /// Runs the prompt (`imageEmbeddings` spliced at its image tokens) into `cache` and returns
  /// the logits of its last position `(V)`, or of every position `(T, V)` when `allPositions`.
  public func prefill(
    tokens: [Int32],
    imageEmbeddings: [Float]? = nil,
    cache: inout KVCache,
    allPositions: Bool = false
  ) throws(ModelError) -> [Float] {
    try language.forward(
      tokens: tokens,
      imageEmbeddings: imageEmbeddings,
      cache: &cache,
      allPositions: allPositions
    )
  }

  /// Appends one token and returns the logits of the next position `(V)`.
  public func decode(token: Int32, cache: inout KVCache) throws(ModelError) -> [Float] {
    try language.forward(tokens: [token], cache: &cache)
  }

  /// Greedy decoding: up to `maxNewTokens` tokens, each the argmax (the first on ties, as
  /// `torch.argmax`); stops after emitting a token in `eosTokenIds` (which is included).
  public func generateGreedy(
    tokens: [Int32],
    imageEmbeddings: [Float]? = nil,
    maxNewTokens: Int,
    eosTokenIds: Set<Int32> = []
  ) throws(ModelError) -> [Int32] {
    try generate(
      tokens: tokens,
      imageEmbeddings: imageEmbeddings,
      maxNewTokens: maxNewTokens,
      sampling: .greedy,
      eosTokenIds: eosTokenIds
    ).map(\.token)
  }

  /// Decodes up to `maxNewTokens` tokens with `sampling` (the repetition penalty sees the prompt
  /// and the tokens generated so far); stops after emitting a token in `eosTokenIds` (included).
  public func generate(
    tokens: [Int32],
    imageEmbeddings: [Float]? = nil,
    maxNewTokens: Int,
    sampling: SamplingParameters,
    eosTokenIds: Set<Int32> = []
  ) throws(ModelError) -> [SampledToken] {
    var cache = language.makeCache(capacity: tokens.count + maxNewTokens)
    var logits = try prefill(tokens: tokens, imageEmbeddings: imageEmbeddings, cache: &cache)
    var sampler = Sampler(sampling)
    var history = tokens
    var generated: [SampledToken] = []
    while generated.count < maxNewTokens {
      let next = sampler.sample(logits: logits, history: history)
      generated.append(next)
      history.append(next.token)
      if eosTokenIds.contains(next.token) || generated.count == maxNewTokens { break }
      logits = try decode(token: next.token, cache: &cache)
    }
    return generated
  }

  /// The index of the largest value, the first one on ties.
  public static func argmax(_ values: [Float]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
  }
}
