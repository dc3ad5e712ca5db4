// The tokens file (`auth.tokens_file`):
//
//   tokens:
//     - name: trainer                  # shown in the audit log; unique
//       token_sha256: 9f86d08...       # hex SHA-256 of the token (64 digits), or, for tests,
//       scopes: [feedback, score]      #   `token: <the token>` (16+ printable characters)
//
// Unknown keys are errors; a file that others may read or write (mode & 0o007) is refused.
// Only digests are kept in memory; a presented token is hashed and compared with every entry
// in constant time.
import Glibc
import Imaging
public import Services
public import Serving
import Yams

/// The tokens of one read of the tokens file.
public struct TokenTable: BearerTokenVerifier, Sendable, Equatable {
  struct Entry: Sendable, Equatable {
    var name: String
    var digest: [UInt8]
    var scopes: Set<AuthScope>
  }

  let entries: [Entry]

  /// The token names, in file order.
  public var names: [String] { entries.map(\.name) }

  /// Hashes `token` and compares the digest with every entry, never stopping early.
  public func identify(token: String) -> TokenIdentity? {
    let presented = SHA256.hash(Array(token.utf8))
    var found = -1
    for (index, entry) in entries.enumerated() {
      var difference: UInt8 = 0
      for i in 0..<32 { difference |= presented[i] ^ entry.digest[i] }
      // All ones when the digests are equal, else zero: no branch on the secret.
      let mask = (Int(difference) &- 1) >> (Int.bitWidth - 1)
      found = (mask & index) | (~mask & found)
    }
    guard found >= 0 else { return nil }
    return TokenIdentity(name: entries[found].name, scopes: entries[found].scopes)
  }

  static let keys = ["name", "token_sha256", "token", "scopes"]

  /// Parses the text of a tokens file (`path` names it in errors).
  public static func parse(yaml: String, path: String) throws(ConfigurationError) -> TokenTable {
    func fail(_ message: String) -> ConfigurationError {
      ConfigurationError("tokens file \(path): \(message)")
    }
    let node: Node?
    do { node = try Yams.compose(yaml: yaml) } catch { throw fail("not valid YAML") }
    guard let top = node?.mapping else { throw fail("must be a mapping with a 'tokens' list") }
    for key in top.keys where key.string != "tokens" {
      throw fail("unknown key '\(key.string ?? "?")'; the only key is 'tokens'")
    }
    guard let list = top["tokens"]?.sequence else { throw fail("'tokens' must be a list") }
    var entries: [Entry] = []
    for (index, item) in list.enumerated() {
      let entry = try Self.entry(item, at: "tokens[\(index)]", fail: fail)
      if entries.contains(where: { $0.name == entry.name }) {
        throw fail("tokens[\(index)]: the name '\(entry.name)' is used twice")
      }
      if entries.contains(where: { $0.digest == entry.digest }) {
        throw fail("tokens[\(index)] ('\(entry.name)'): the same token is listed twice")
      }
      entries.append(entry)
    }
    return TokenTable(entries: entries)
  }

  private static func entry(
    _ item: Node,
    at place: String,
    fail: (String) -> ConfigurationError
  ) throws(ConfigurationError) -> Entry {
    guard let map = item.mapping else { throw fail("\(place) must be a mapping") }
    for key in map.keys where !keys.contains(key.string ?? "") {
      throw fail(
        "\(place): unknown key '\(key.string ?? "?")'; known keys: \(keys.joined(separator: ", "))"
      )
    }
    guard let name = map["name"]?.scalar?.string, !name.isEmpty, name.utf8.count <= 64,
      name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
    else { throw fail("\(place): 'name' must be 1-64 printable characters without spaces") }
    let at = "\(place) ('\(name)')"
    let digest: [UInt8]
    switch (map["token_sha256"], map["token"]) {
    case (.some(let hex), nil):
      guard let text = hex.scalar?.string, let bytes = Self.hexDigest(text) else {
        throw fail("\(at): 'token_sha256' must be 64 hex digits (sha256sum of the token)")
      }
      digest = bytes
    case (nil, .some(let plain)):
      guard let token = plain.scalar?.string, token.utf8.count >= 16, token.utf8.count <= 4096,
        token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
      else { throw fail("\(at): 'token' must be 16-4096 printable characters without spaces") }
      digest = SHA256.hash(Array(token.utf8))
    default:
      throw fail("\(at): give exactly one of 'token_sha256' and 'token'")
    }
    guard let list = map["scopes"]?.sequence else {
      throw fail("\(at): 'scopes' must be a list of \(Self.scopeNames)")
    }
    var scopes = Set<AuthScope>()
    for value in list {
      guard let scope = value.scalar.flatMap({ AuthScope(rawValue: $0.string) }) else {
        throw fail(
          "\(at): unknown scope '\(value.scalar?.string ?? "?")'; scopes: \(Self.scopeNames)"
        )
      }
      scopes.insert(scope)
    }
    return Entry(name: name, digest: digest, scopes: scopes)
  }

  static var scopeNames: String { AuthScope.allCases.map(\.rawValue).joined(separator: ", ") }

  static func hexDigest(_ text: String) -> [UInt8]? {
    let digits = Array(text.lowercased().utf8)
    guard digits.count == 64 else { return nil }
    var bytes: [UInt8] = []
    for pair in stride(from: 0, to: 64, by: 2) {
      guard let byte = UInt8(String(decoding: digits[pair..<pair + 2], as: UTF8.self), radix: 16)
      else { return nil }
      bytes.append(byte)
    }
    return bytes
  }

  /// Reads and parses the file; refuses one that others may read or write.
  public static func load(path: String) throws(ConfigurationError) -> TokenTable {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw ConfigurationError(
        "cannot open the tokens file \(path): \(String(cString: strerror(errno)))"
      )
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
      throw ConfigurationError("the tokens file \(path) is not a regular file")
    }
    if status.st_mode & 0o007 != 0 {
      let mode = String(status.st_mode & 0o777, radix: 8)
      throw ConfigurationError(
        "the tokens file \(path) is accessible by other users (mode \(mode)); run: chmod o-rwx \(path)"
      )
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { throw ConfigurationError("cannot read the tokens file \(path)") }
      if count == 0 { break }
      bytes += buffer[0..<count]
      if bytes.count > 1 << 20 { throw ConfigurationError("the tokens file \(path) is over 1 MiB") }
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ConfigurationError("the tokens file \(path) is not UTF-8")
    }
    return try Self.parse(yaml: text, path: path)
  }
}
