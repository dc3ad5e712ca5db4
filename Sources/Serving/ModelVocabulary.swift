// The one vocabulary check of everything Serving feeds a model. A model embeds the ids
// `0..<text_config.vocab_size` of its `config.json`, plus its image placeholder
// (`image_token_index`), which never reaches the embedding: its positions take image features.
// At load, the tokenizer must agree with the config (its `<image>` is the config's placeholder,
// and it produces no id the model cannot embed); per request, the token ids of a prompt or a
// reward input must be ids the model embeds (the policy's and the reward model's alike).
// (Models keeps its own guard, `ModelError.tokenOutOfRange`, for callers that bypass Serving.)
import Checkpoints
import ServingTypes
import Tokenizer

/// The token ids a model accepts. See the file comment.
struct ModelVocabulary: Sendable, Equatable {
  /// Ids `0..<size` have an embedding row.
  let size: Int
  /// The image placeholder, expanded to the image's feature rows.
  let imageTokenId: Int32
  /// What the messages call the model ("policy", "reward model").
  let model: String

  init(size: Int, imageTokenId: Int32, model: String) {
    self.size = size
    self.imageTokenId = imageTokenId
    self.model = model
  }

  init(_ config: LlavaConfig, model: String) {
    self.init(
      size: config.text.vocabSize,
      imageTokenId: Int32(truncatingIfNeeded: config.imageTokenIndex),
      model: model
    )
  }

  /// The first id of `ids` that is neither embeddable nor the image placeholder.
  func firstOutOfRange(_ ids: some Sequence<Int32>) -> Int32? {
    ids.first { $0 != imageTokenId && !LlamaTextConfig.embeds($0, vocabSize: size) }
  }

  /// Refuses a request whose tokens the model cannot embed; `field` names where they came from.
  func check(_ ids: some Sequence<Int32>, field: String) throws(BackendError) {
    guard let bad = firstOutOfRange(ids) else { return }
    throw BackendError(
      .invalidArgument,
      "\(field) has token id \(bad), outside the \(model)'s vocabulary of \(size)"
    )
  }

  /// Refuses, at load, a tokenizer that disagrees with the model's config: a different id for
  /// `imageToken`, or ids beyond the embedding that are not the placeholder.
  func check(
    _ tokenizer: SentencePieceTokenizer,
    imageToken: String,
    directory: String
  ) throws(ConfigurationError) {
    if let id = tokenizer.id(forPiece: imageToken),
      id != imageTokenId
    {
      throw ConfigurationError(
        "\(directory): the tokenizer's \(imageToken) is id \(id) but config.json's image_token_index is \(imageTokenId)"
      )
    }
    let highest = Int32(truncatingIfNeeded: tokenizer.vocabSize - 1)
    if tokenizer.vocabSize > size, let bad = firstOutOfRange(Int32(size)...highest) {
      throw ConfigurationError(
        "\(directory): the tokenizer has \(tokenizer.vocabSize) ids but the \(model) embeds \(size) (text_config.vocab_size): id \(bad) has no embedding"
      )
    }
  }
}
