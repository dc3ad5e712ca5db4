/// A token matched literally in text before SentencePiece sees it, such as llava-hf's `<image>`
/// (appended after the SentencePiece vocabulary) or `</s>` (a control piece of the model).
/// Mirrors transformers' `AddedToken` fields that affect the slow tokenizer.
public struct AddedToken: Sendable, Hashable {
  /// The literal text, e.g. `<image>`.
  public var content: String
  public var id: Int32
  /// Strip whitespace from the text before the token (transformers' `lstrip`).
  public var lstrip: Bool
  /// Strip whitespace from the text after the token (transformers' `rstrip`).
  public var rstrip: Bool
  /// A special token: skipped by `decode(skipSpecialTokens: true)`; in non-legacy mode the prefix
  /// `▁` before a leading special token is dropped.
  public var special: Bool

  public init(
    _ content: String,
    id: Int32,
    lstrip: Bool = false,
    rstrip: Bool = false,
    special: Bool = true
  ) {
    self.content = content
    self.id = id
    self.lstrip = lstrip
    self.rstrip = rstrip
    self.special = special
  }
}

/// Text split at added-token literals, leftmost-longest, like transformers' `Trie.split`.
enum Segment: Equatable {
  case text(Substring)
  case token(AddedToken)

  static func split(_ text: String, on tokens: [AddedToken]) -> [Segment] {
    let literals = tokens.filter { !$0.content.isEmpty }.sorted {
      $0.content.utf8.count > $1.content.utf8.count
    }
    var segments: [Segment] = []
    var textStart = text.startIndex
    var index = text.startIndex
    while index < text.endIndex {
      let rest = text.utf8[index...]
      if let token = literals.first(where: { rest.starts(with: $0.content.utf8) }) {
        if textStart < index { segments.append(.text(text[textStart..<index])) }
        segments.append(.token(token))
        index = text.utf8.index(index, offsetBy: token.content.utf8.count)
        textStart = index
      } else {
        index = text.unicodeScalars.index(after: index)
      }
    }
    if textStart < text.endIndex { segments.append(.text(text[textStart...])) }
    return applyingStrip(segments)
  }

  /// transformers' `lstrip`/`rstrip` handling in `PreTrainedTokenizer.tokenize`.
  private static func applyingStrip(_ input: [Segment]) -> [Segment] {
    var segments = input
    for i in segments.indices {
      guard case .token(let token) = segments[i] else { continue }
      if token.rstrip, i + 1 < segments.count, case .text(let right) = segments[i + 1] {
        segments[i + 1] = .text(right.drop(while: \.isWhitespace))
      }
      if token.lstrip, i > 0, case .text(let left) = segments[i - 1] {
        var left = left
        while left.last?.isWhitespace == true { left.removeLast() }
        segments[i - 1] = .text(left)
      }
    }
    return segments.filter { $0 != .text("") }
  }
}
