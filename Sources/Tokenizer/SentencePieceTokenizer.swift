/// A token id: SentencePiece ids first, added tokens (llava-hf's `<image>`) after them.
public typealias TokenID = Int32

/// A Llama-family SentencePiece tokenizer with added tokens, behaving like transformers' slow
/// `LlamaTokenizer`: text is split at added-token literals, the pieces between them are encoded
/// with SentencePiece, and the added ids are inserted.
///
/// Thread safety: immutable after `init`; the SentencePiece processor is safe for concurrent
/// encode/decode (see `SentencePieceModel`), so one instance may serve all requests.
public final class SentencePieceTokenizer: Sendable {
  /// How text is tokenized; mirrors the fields of transformers' `tokenizer_config.json`.
  public struct Configuration: Sendable {
    /// transformers' `legacy` flag. `true` (its default when the config omits it, and what
    /// original LLaVA's `tokenizer_image_token` does): each text segment is encoded on its own
    /// with SentencePiece's dummy prefix, so text after a special token starts with `▁`
    /// (`<image>\n` → `<image>`, `▁`, `<0x0A>`). `false` (llava-hf's configs): only the start of
    /// the text gets the `▁`, none is added after special tokens (`<image>`, `<0x0A>`).
    public var legacy: Bool
    /// transformers' `add_prefix_space` (non-legacy mode only): whether the text start gets `▁`.
    public var addPrefixSpace: Bool
    /// Tokens appended after the SentencePiece vocabulary in this order, taking ids
    /// `vocabSize`, `vocabSize + 1`, …: llava-hf appends `<image>` (then `<pad>`). Contents
    /// already listed in `addedTokens` are not appended again.
    public var appendedTokens: [String]
    /// Tokens with explicit ids, e.g. from `added_tokens_decoder`. The model's own `<unk>`,
    /// `<s>` and `</s>` pieces are always matched in text, as in transformers.
    public var addedTokens: [AddedToken]

    public init(
      legacy: Bool = true,
      addPrefixSpace: Bool = true,
      appendedTokens: [String] = ["<image>"],
      addedTokens: [AddedToken] = []
    ) {
      self.legacy = legacy
      self.addPrefixSpace = addPrefixSpace
      self.appendedTokens = appendedTokens
      self.addedTokens = addedTokens
    }
  }

  let model: SentencePieceModel
  /// The same model with `add_dummy_prefix` off, for non-legacy encoding.
  let unprefixedModel: SentencePieceModel?
  let table: PieceTable
  public let configuration: Configuration
  /// Every added token, including the model's special pieces; sorted by id.
  public let addedTokens: [AddedToken]
  let addedByID: [TokenID: AddedToken]

  /// Number of SentencePiece pieces; added tokens take ids from here on.
  public var sentencePieceVocabSize: Int { model.vocabSize }
  /// SentencePiece pieces plus added tokens beyond them.
  public let vocabSize: Int
  /// The longest piece's surface in UTF-8 bytes (`▁` counted as the one space it stands for).
  let longestPieceBytes: Int
  public var bosID: TokenID? { model.bosID >= 0 ? model.bosID : nil }
  public var eosID: TokenID? { model.eosID >= 0 ? model.eosID : nil }
  public var unkID: TokenID? { model.unkID >= 0 ? model.unkID : nil }
  /// The SentencePiece pad id; llava-hf models use an added `<pad>` or the unk id instead.
  public var padID: TokenID? { model.padID >= 0 ? model.padID : nil }

  /// The most UTF-8 bytes a text of at most `tokens` tokens can have: a cheap bound that lets a
  /// caller refuse an overlong prompt before tokenizing it (tokenizing costs ~1.4 µs a byte).
  /// Each token stands for at most the longest piece's surface (or an added token's content),
  /// and normalization shrinks text by at most 3× (NFKC composing Hangul jamo). Only a model
  /// without byte fallback, which merges a run of unknown characters into one token, can encode
  /// more bytes than this in as many tokens.
  public func maxTextBytes(forTokens tokens: Int) -> Int {
    let perToken = max(longestPieceBytes, addedTokens.map(\.content.utf8.count).max() ?? 1, 1)
    return tokens.multipliedReportingOverflow(by: perToken * 3).overflow
      ? Int.max : tokens * perToken * 3
  }

  /// Loads `tokenizer.model` from a file.
  public convenience init(
    modelPath: String,
    configuration: Configuration = .init()
  ) throws(TokenizerError) {
    let model = try SentencePieceModel(path: modelPath)
    let unprefixed =
      configuration.legacy ? nil : try SentencePieceModel(path: modelPath, removeDummyPrefix: true)
    try self.init(model: model, unprefixed: unprefixed, configuration: configuration)
  }

  /// Loads a serialized `tokenizer.model` from memory.
  public convenience init(
    modelBytes: [UInt8],
    configuration: Configuration = .init()
  ) throws(TokenizerError) {
    let model = try SentencePieceModel(bytes: modelBytes)
    let unprefixed =
      configuration.legacy
      ? nil : try SentencePieceModel(bytes: modelBytes, removeDummyPrefix: true)
    try self.init(model: model, unprefixed: unprefixed, configuration: configuration)
  }

  private init(
    model: SentencePieceModel,
    unprefixed: SentencePieceModel?,
    configuration: Configuration
  ) throws(TokenizerError) {
    self.model = model
    self.unprefixedModel = unprefixed
    self.configuration = configuration
    self.table = try PieceTable(model: model)
    self.longestPieceBytes = table.longestTextSurface
    let tokens = try Self.collectAddedTokens(model: model, configuration: configuration)
    self.addedTokens = tokens
    self.addedByID = Dictionary(tokens.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    self.vocabSize = max(model.vocabSize, Int(tokens.last.map { $0.id + 1 } ?? 0))
  }

  private static func collectAddedTokens(
    model: SentencePieceModel,
    configuration: Configuration
  ) throws(TokenizerError) -> [AddedToken] {
    var tokens = configuration.addedTokens
    // Appended tokens take the next ids unless given explicitly already.
    var next = model.vocabSize
    for content in configuration.appendedTokens
    where !tokens.contains(where: { $0.content == content }) {
      tokens.append(AddedToken(content, id: TokenID(next)))
      next += 1
    }
    for id in [model.unkID, model.bosID, model.eosID] where id >= 0 {
      if let piece = model.pieceBytes(id), !tokens.contains(where: { $0.id == id }) {
        tokens.append(AddedToken(String(decoding: piece, as: UTF8.self), id: id))
      }
    }
    var contents: Set<String> = []
    var ids: Set<TokenID> = []
    for token in tokens {
      guard !token.content.isEmpty, token.id >= 0, contents.insert(token.content).inserted,
        ids.insert(token.id).inserted
      else {
        throw TokenizerError(
          .invalidConfiguration,
          "added token '\(token.content)' (id \(token.id)) is empty, negative or duplicated"
        )
      }
    }
    return tokens.sorted { $0.id < $1.id }
  }

  /// The id of an added token such as `<image>`.
  public func addedTokenID(_ content: String) -> TokenID? {
    addedTokens.first { $0.content == content }?.id
  }

  /// The piece (or added-token literal) of an id.
  public func piece(for id: TokenID) -> String? {
    if let token = addedByID[id] { return token.content }
    return model.pieceBytes(id).map { String(decoding: $0, as: UTF8.self) }
  }

  /// The id of a piece or added-token literal; nil when unknown.
  public func id(forPiece piece: String) -> TokenID? {
    if let token = addedTokens.first(where: { $0.content == piece }) { return token.id }
    let id = model.id(ofPiece: piece)
    return id == model.unkID && piece != self.piece(for: id) ? nil : id
  }

  /// A fresh streaming decoder for one generation.
  public func makeIncrementalDecoder() -> IncrementalDecoder {
    IncrementalDecoder(table: table)
  }
}
