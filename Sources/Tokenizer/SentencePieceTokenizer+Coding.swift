extension SentencePieceTokenizer {
  /// Encodes text like transformers' `LlamaTokenizer.__call__`: added-token literals (`<image>`,
  /// `<s>`, `</s>`, `<unk>`) become their ids, the text between them goes through SentencePiece,
  /// and BOS comes first when `addBOS` is set. EOS is never added.
  ///
  /// Legacy mode encodes every segment with SentencePiece's dummy prefix (so `<image>\n` gives
  /// `<image>`, `▁`, `<0x0A>`), as the slow tokenizer and LLaVA's `tokenizer_image_token` do.
  public func encode(_ text: String, addBOS: Bool = true) throws(TokenizerError) -> [TokenID] {
    var ids: [TokenID] = []
    if addBOS, let bosID { ids.append(bosID) }
    if configuration.legacy {
      for segment in Segment.split(text, on: addedTokens) {
        switch segment {
        case .token(let token): ids.append(token.id)
        case .text(let text): ids += try model.encode(String(text))
        }
      }
      return ids
    }
    return ids + (try encodeNonLegacy(text))
  }

  /// Non-legacy (`legacy: false`, transformers 5's Metaspace pre-tokenizer with prepend scheme
  /// "first"): only the text segment at the very start gets the `▁` prefix, and only when it does
  /// not already start with a space or `▁`; every other segment is encoded without a prefix.
  private func encodeNonLegacy(_ text: String) throws(TokenizerError) -> [TokenID] {
    let unprefixed = unprefixedModel ?? model
    var ids: [TokenID] = []
    for segment in Segment.split(text, on: addedTokens) {
      switch segment {
      case .token(let token):
        ids.append(token.id)
      case .text(let text):
        let atStart = text.startIndex == text.base.startIndex
        let prefixed =
          atStart && configuration.addPrefixSpace && !text.hasPrefix(" ")
          && !text.hasPrefix("\u{2581}")
        // SentencePiece's dummy prefix is exactly a `▁` in front of the text.
        ids += try (prefixed ? model : unprefixed).encode(String(text))
      }
    }
    return ids
  }

  /// The ids of `text` from SentencePiece alone: no added tokens, no BOS (the model's own view).
  public func encodeWithSentencePiece(_ text: String) throws(TokenizerError) -> [TokenID] {
    try model.encode(text)
  }

  /// Decodes ids to text exactly as SentencePiece does: control pieces (`<s>`, `</s>`) vanish,
  /// `<unk>` becomes ` ⁇ `, byte pieces join into UTF-8 (U+FFFD for invalid bytes) and the first
  /// piece's leading space is dropped. Added tokens beyond the SentencePiece vocabulary
  /// (`<image>`) are left out, or with `includeAddedTokens` appear as their literal text.
  public func decode(
    _ ids: [TokenID],
    includeAddedTokens: Bool = false
  ) throws(TokenizerError) -> String {
    var text = ""
    var run: [TokenID] = []
    for id in ids {
      if id >= 0 && Int(id) < sentencePieceVocabSize {
        run.append(id)
      } else if let token = addedByID[id] {
        guard includeAddedTokens else { continue }
        text += try model.decode(run) + token.content
        run.removeAll(keepingCapacity: true)
      } else {
        throw TokenizerError(.invalidID, "token id \(id) is outside the vocabulary (\(vocabSize))")
      }
    }
    return text + (try model.decode(run))
  }
}
