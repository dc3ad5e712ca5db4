// The CPU-heavy half of a Score request, run on the reward runner's preprocessing threads: the
// image is decoded and resized, and each candidate's reward input is rendered and tokenized.
import Checkpoints
import Imaging
import Models
import Scheduler
import ServingTypes
import Tokenizer

/// A Score request made ready for the batch.
struct PreparedScore: @unchecked Sendable {
  let image: PreparedImage
  let sequences: [RewardSequence]
  let group: RewardGroup
  /// The symbolic reward terms of each response, in request order.
  let terms: [(correctness: Float, length: Float, eos: Float)]
  let promptTokens: Int
  let completionTokens: Int
}

extension RewardRunner {
  func prepare(_ request: RewardRequest, version: RewardModelVersion) throws -> PreparedScore {
    let image = try features.prepare(request.image, field: "image")
    let captions = request.facts?.captions ?? []
    let context = model.weights.config.text.maxPositionEmbeddings
    let group = RewardGroup(count: request.responses.count)
    var sequences: [RewardSequence] = []
    var terms: [(correctness: Float, length: Float, eos: Float)] = []
    var promptTokens = 0
    var completionTokens = 0
    for (index, response) in request.responses.enumerated() {
      let ids = try tokens(render(prompt: request.prompt, response: response, captions: captions))
      if ids.count > context {
        throw BackendError(
          .invalidArgument,
          "responses[\(index)]: the reward input is \(ids.count) tokens (with image tokens); the reward model's context holds \(context)"
        )
      }
      try batch.vocabulary.check(ids, field: "responses[\(index)]")
      let responseTokens = try tokenizer.encode(response, addBOS: false).count
      completionTokens += responseTokens
      promptTokens += ids.count - responseTokens
      terms.append(
        SymbolicRewards.terms(
          response,
          tokens: responseTokens,
          endedWithEOS: true,
          facts: request.facts,
          weights: settings.weights
        )
      )
      sequences.append(
        RewardSequence(
          id: batch.nextSequenceID(),
          tokens: ids,
          promptKeys: SequenceKeys.keys(
            tokens: ids,
            imageTokenId: imageTokenId,
            images: [image.key],
            rowsPerImage: model.weights.config.imageFeatureCount,
            salt: version.salt
          ),
          images: [image],
          imageTokenId: imageTokenId,
          group: group,
          index: index,
          version: version
        )
      )
    }
    return PreparedScore(
      image: image,
      sequences: sequences,
      group: group,
      terms: terms,
      promptTokens: promptTokens,
      completionTokens: completionTokens
    )
  }
}
