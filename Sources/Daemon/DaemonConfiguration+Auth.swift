// The `auth:` section of the configuration: where the bearer tokens are (never the tokens).
import Serving

/// `auth: { tokens_file: /etc/rlhfd/tokens.yaml }` (`TokenFile.swift` reads the file).
public struct AuthSettings: Codable, Sendable, Equatable {
  /// The tokens file: `tokens: [{name, token_sha256 | token, scopes}]`, not world-accessible;
  /// re-read on SIGHUP.
  public var tokensFile: String

  public init(tokensFile: String) { self.tokensFile = tokensFile }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case tokensFile = "tokens_file"
  }

  /// Checks values that decode but make no sense.
  func validate() throws(ConfigurationError) {
    if self.tokensFile.isEmpty {
      throw ConfigurationError("'auth.tokens_file' is empty; give the path of the tokens file")
    }
  }
}
