/// An error from loading a tokenizer model, encoding, or decoding.
public struct TokenizerError: Error, Equatable, CustomStringConvertible {
  /// What went wrong, for callers that map errors to status codes.
  public enum Code: Sendable, Equatable {
    /// The model file is missing, unreadable, or not a SentencePiece model.
    case invalidModel
    /// The tokenizer configuration is inconsistent (e.g. an added token clashes with the vocab).
    case invalidConfiguration
    /// SentencePiece refused to encode the text.
    case encodeFailed
    /// A token id is outside the vocabulary.
    case invalidID
  }

  public let code: Code
  /// A human-readable explanation naming the file, token or id involved.
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
