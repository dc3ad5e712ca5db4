// The reward model: the LLaVA backbone (vision tower, projector, language model) with a scalar
// head. Checkpoint layout (transformers' sequence-classification naming): `score.weight`
// (1, hidden) and an optional `score.bias` (1); reward = score.weight · h (+ score.bias), h = the
// final hidden state after the final RMSNorm at the last position. A reward-model version may
// replace the head with its trained one (`RewardScoreHead`, from PEFT's `modules_to_save`).
public import Checkpoints
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
  /// set on the backbone (nil: the base); `head`: a trained head (nil: the checkpoint's).
  public func score(
    tokens: [Int32],
    imageEmbeddings: [Float]? = nil,
    adapter: DecoderAdapter? = nil,
    head: RewardScoreHead? = nil
  ) throws(ModelError) -> Float {
    try check(adapter: adapter, head: head)
    var cache = language.makeCache(capacity: tokens.count)
    let C = weights.config.text.hiddenSize
    let hidden = try language.finalHidden(
      tokens: tokens,
      imageEmbeddings: imageEmbeddings,
      cache: &cache,
      adapter: adapter
    )
    return score(lastHidden: Array(hidden[(tokens.count - 1) * C..<tokens.count * C]), head: head)
  }

  /// The score of one final hidden state `(C)` under `head` (nil: the checkpoint's head).
  public func score(lastHidden: [Float], head: RewardScoreHead?) -> Float {
    guard let head else { return Self.head(weights, lastHidden: lastHidden) }
    precondition(head.weight.count == lastHidden.count, "a score head of another width")
    var out: Float = 0
    for (w, h) in zip(head.weight, lastHidden) { out += w * h }
    return out + (head.bias ?? 0)
  }

  /// Refuses an adapter made for a decoder of another shape, or a head of another width or
  /// with values that are not finite.
  public func check(adapter: DecoderAdapter?, head: RewardScoreHead?) throws(ModelError) {
    try language.checkAdapter(adapter)
    guard let head else { return }
    let C = weights.config.text.hiddenSize
    guard head.weight.count == C else {
      throw .adapter(
        "the score head has \(head.weight.count) inputs; the model's hidden size is \(C)"
      )
    }
    guard head.weight.allSatisfy(\.isFinite), head.bias?.isFinite ?? true else {
      throw .adapter("the score head is not finite")
    }
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
