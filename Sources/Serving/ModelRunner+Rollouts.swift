// What the trainer needs of a rollout besides its tokens: the query exactly as Generate feeds it
// to the model (the template rendered, tokenized, each `<image>` expanded to the image's feature
// rows) and the projected image rows the decoder reads at those positions, from the same
// preprocessing, feature cache, vision tower and projector. With them the training forward
// (`DecoderTraining.forward` + `policyHead` over query + response) scores the response in the
// same precision as the rollout did: PPO's ratio is 1 at the first minibatch.
import Checkpoints
import Imaging
import Models
public import ServingTypes
import Tokenizer

/// The model inputs of a Generate request's prompt.
public struct RolloutInputs: Sendable, Equatable {
  /// The prompt tokens Generate feeds the model: rendered, tokenized, image tokens expanded
  /// (one per feature row).
  public var query: [Int32]
  /// `(N, C)` row-major: the projected rows of the request's images, in order, one per image
  /// token of `query`; nil without images.
  public var imageRows: [Float]?

  public init(query: [Int32], imageRows: [Float]?) {
    self.query = query
    self.imageRows = imageRows
  }
}

extension ModelRunner {
  /// The query tokens and image rows a Generate of `request` runs on (its checks included:
  /// unknown image hashes are NOT_FOUND; bad images, untokenizable prompts and prompts that
  /// leave no room to generate are INVALID_ARGUMENT). Images the feature cache does not hold
  /// are encoded on the caller's thread, and cached as Generate caches them.
  public func rolloutInputs(_ request: GenerationRequest) throws -> RolloutInputs {
    let images = try request.images.enumerated().map { index, image in
      try features.prepare(image, field: "images[\(index)]")
    }
    let query = try promptTokens(request)
    if query.count >= contextLength {
      throw BackendError(
        .invalidArgument,
        "the prompt is \(query.count) tokens (with image tokens); the context holds \(contextLength), leaving no room to generate"
      )
    }
    try batch.vocabulary.check(query, field: "the prompt")
    guard !images.isEmpty else { return RolloutInputs(query: query, imageRows: nil) }
    let executor = batch.executor
    var rows: [Float] = []
    for (index, image) in images.enumerated() {
      do {
        rows += try features.embeddings(image) { pixels throws(ModelError) in
          try executor.encodeImage(pixels)
        }
      } catch {
        throw BackendError(.invalidArgument, "images[\(index)]: \(error)")
      }
    }
    return RolloutInputs(query: query, imageRows: rows)
  }

  /// The rendered, tokenized prompt with each `<image>` expanded to the image's feature rows.
  func promptTokens(_ request: GenerationRequest) throws -> [Int32] {
    let rendered: ChatTemplate.Prompt =
      request.rawPrompt
      ? .raw(request.prompt) : .chat(request.prompt, imageCount: request.images.count)
    let ids: [Int32]
    do { ids = try settings.template.encode(rendered, with: tokenizer) } catch {
      throw BackendError(.invalidArgument, "the prompt cannot be tokenized: \(error)")
    }
    let imageTokens = ids.count { $0 == imageTokenId }
    if imageTokens != request.images.count {
      throw BackendError(
        .invalidArgument,
        "the prompt has \(imageTokens) \(settings.template.imageToken) tokens but \(request.images.count) images were given"
      )
    }
    let rows = model.weights.config.imageFeatureCount
    var expanded: [Int32] = []
    expanded.reserveCapacity(ids.count + imageTokens * rows)
    for id in ids {
      if id == imageTokenId {
        expanded += repeatElement(id, count: rows)
      } else {
        expanded.append(id)
      }
    }
    return expanded
  }
}
