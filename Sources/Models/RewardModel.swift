// The reward model: the LLaVA backbone (vision tower, projector, language model) with a scalar
// head. Checkpoint layout (transformers' sequence-classification naming): `score.weight`
// (1, hidden) and an optional `score.bias` (1); reward = score.weight · h (+ score.bias), h = the
// final hidden state after the final RMSNorm at the last position.
import Checkpoints
import Engine

/// A LLaVA reward model over shared base weights.
public struct RewardModel: Sendable {
  public let weights: LlavaWeights
  public let vision: VisionTower
  public let projector: Projector
  public let language: LanguageModel

  /// `weights` must have been loaded with the reward head.
  public init(weights: LlavaWeights) {
    precondition(weights.head == .reward, "a reward model needs the score head")
    self.weights = weights
    vision = VisionTower(weights: weights)
    projector = Projector(weights: weights)
    language = LanguageModel(weights: weights)
  }

  /// The rows an image contributes to the prompt, `(N, C)`.
  public func imageEmbeddings(pixels: [Float]) throws(ModelError) -> [Float] {
    projector.forward(features: try vision.features(pixels: pixels))
  }

  /// The score of a whole sequence (prompt, response, evaluation prompt); `adapter`: a LoRA
  /// set on the backbone (nil: the base).
  public func score(
    tokens: [Int32],
    imageEmbeddings: [Float]? = nil,
    adapter: DecoderAdapter? = nil
  ) throws(ModelError) -> Float {
    var cache = language.makeCache(capacity: tokens.count)
    let C = weights.config.text.hiddenSize
    let hidden = try language.finalHidden(
      tokens: tokens,
      imageEmbeddings: imageEmbeddings,
      cache: &cache,
      adapter: adapter
    )
    return Self.head(weights, lastHidden: Array(hidden[(tokens.count - 1) * C..<tokens.count * C]))
  }

  /// `score.weight · h (+ score.bias)` for one final hidden state `(C)`.
  static func head(_ weights: LlavaWeights, lastHidden: [Float]) -> Float {
    guard let score = weights.decoder.score else { preconditionFailure("no score head") }
    var out: Float = 0
    lastHidden.withUnsafeBufferPointer { h in
      Matmul.forward(
        out: &out,
        in: h.baseAddress!,
        weight: score.weight,
        bias: score.bias,
        M: 1,
        N: 1,
        K: lastHidden.count
      )
    }
    return out
  }
}
