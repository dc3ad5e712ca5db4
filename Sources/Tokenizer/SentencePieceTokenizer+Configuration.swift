/// Reads the fields of transformers' `tokenizer_config.json` that shape tokenization: `legacy`
/// (default `true`, as transformers assumes when it is absent), `add_prefix_space` (default
/// `true`) and `added_tokens_decoder` (explicit ids, so nothing is appended). Use with
/// `JSONDecoder`.
extension SentencePieceTokenizer.Configuration: Decodable {
  private enum Keys: String, CodingKey {
    case legacy
    case add_prefix_space
    case added_tokens_decoder
  }

  private struct Entry: Decodable {
    var content: String
    var lstrip: Bool?
    var rstrip: Bool?
    var special: Bool?
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: Keys.self)
    var tokens: [AddedToken] = []
    let entries = try container.decodeIfPresent([String: Entry].self, forKey: .added_tokens_decoder)
    for (key, entry) in entries ?? [:] {
      guard let id = TokenID(key) else {
        throw DecodingError.dataCorruptedError(
          forKey: .added_tokens_decoder,
          in: container,
          debugDescription: "added token id '\(key)' is not an integer"
        )
      }
      tokens.append(
        AddedToken(
          entry.content,
          id: id,
          lstrip: entry.lstrip ?? false,
          rstrip: entry.rstrip ?? false,
          special: entry.special ?? true
        )
      )
    }
    self.init(
      legacy: try container.decodeIfPresent(Bool?.self, forKey: .legacy).flatMap { $0 } ?? true,
      addPrefixSpace: try container.decodeIfPresent(Bool?.self, forKey: .add_prefix_space)
        .flatMap { $0 } ?? true,
      appendedTokens: [],
      addedTokens: tokens.sorted { $0.id < $1.id }
    )
  }
}
