// Errors of the model layer: bad inputs to a forward pass (caught before any kernel runs) and
// checkpoint problems met while loading.
public import Checkpoints
public import Engine

/// Why a model could not be loaded or a forward pass could not run.
public enum ModelError: Error, Equatable, CustomStringConvertible {
  /// The checkpoint is unusable (names, shapes, dtypes, config).
  case checkpoint(CheckpointError)
  /// A weight's bytes could not be wrapped.
  case engine(EngineError)
  /// The prompt holds `tokens` image-token ids but `features` image-feature rows were given.
  case imageTokenCountMismatch(tokens: Int, features: Int)
  /// Image embeddings whose value count is not a multiple of the hidden size `width`.
  case imageFeatureWidthMismatch(width: Int, count: Int)
  /// A token id outside `0 ..< vocabulary` (and not the image token).
  case tokenOutOfRange(token: Int32, vocabulary: Int)
  /// The sequence would exceed the KV cache's capacity.
  case contextOverflow(needed: Int, capacity: Int)
  /// No tokens were given.
  case emptyInput
  /// Pixel values of the wrong size.
  case pixelCountMismatch(expected: Int, actual: Int)
  /// A batch entry's image tokens need feature rows `first ..< first + count`, outside `rows`.
  case imageRowsOutOfRange(first: Int, count: Int, rows: Int)
  /// A batch entry's block table covers `covered` positions but it needs `needed`.
  case blockTableTooShort(needed: Int, covered: Int)
  /// A block id outside the paged KV cache's `0 ..< blocks`.
  case blockOutOfRange(block: Int32, blocks: Int)
  /// A batch entry starts at a negative position.
  case negativeStart(Int)
  /// `precision: bf16` on a CPU without AVX512-BF16.
  case bf16ProductsUnsupported
  /// A LoRA adapter that cannot be served on this base (unparsable, a target other than the
  /// language model's seven linears, shapes that do not fit, DoRA and other unsupported options).
  case adapter(String)
  /// A training pass's inputs do not fit (target positions, gradient lengths, parameters).
  case training(String)
  /// A training pass's yield hook stopped it (`TrainingYield`); parameters may be partially
  /// updated.
  case interrupted(TrainingInterrupted)

  public var description: String {
    switch self {
    case .checkpoint(let error): "checkpoint: \(error)"
    case .engine(let error): "weights: \(error)"
    case .imageTokenCountMismatch(let tokens, let features):
      "the prompt has \(tokens) image tokens but the images give \(features) feature rows"
    case .imageFeatureWidthMismatch(let width, let count):
      "image embeddings hold \(count) values, not rows of the hidden size \(width)"
    case .tokenOutOfRange(let token, let vocabulary):
      "token id \(token) is outside the vocabulary 0..<\(vocabulary)"
    case .contextOverflow(let needed, let capacity):
      "the sequence needs \(needed) positions but the context holds \(capacity)"
    case .emptyInput: "no input tokens"
    case .pixelCountMismatch(let expected, let actual):
      "pixel values: expected \(expected) floats (3, S, S), got \(actual)"
    case .imageRowsOutOfRange(let first, let count, let rows):
      "image tokens need feature rows \(first)..<\(first + count) but the image has \(rows)"
    case .blockTableTooShort(let needed, let covered):
      "the block table covers \(covered) positions but the sequence needs \(needed)"
    case .blockOutOfRange(let block, let blocks):
      "block id \(block) is outside the paged KV cache's 0..<\(blocks)"
    case .negativeStart(let start): "a batch entry starts at position \(start)"
    case .adapter(let message): "LoRA adapter: \(message)"
    case .training(let message): "training: \(message)"
    case .interrupted(let interruption): "\(interruption)"
    case .bf16ProductsUnsupported:
      "precision bf16 needs a CPU with AVX512-BF16 (Zen 4 or later, Sapphire Rapids or later;"
        + " RLHFD_NO_AVX512=1 turns it off); use precision fp32 on this one"
    }
  }
}
