// The tokens file: parsing, validation (unknown keys, duplicates, bad digests and scopes),
// the file-mode check, constant-time lookup by digest and reload keeping old tokens on error.
import Daemon
import Foundation
import Glibc
import Imaging
import Services
import Serving
import Testing

@Suite struct TokenFileTests {
  static let hex = SHA256.hash(Array("trainer-token-0123456789".utf8))
    .map { String(format: "%02x", $0) }.joined()

  func parse(_ yaml: String) throws(ConfigurationError) -> TokenTable {
    try TokenTable.parse(yaml: yaml, path: "tokens.yaml")
  }

  @Test func digestsAndPlainTokensIdentifyTheirHolders() throws {
    let table = try parse(
      """
      tokens:
        - name: trainer
          token_sha256: \(Self.hex.uppercased())
          scopes: [feedback, score]
        - {name: ops, token: admin-token-abcdefgh, scopes: [admin]}
        - {name: reflect-only, token: reflection-token-0001, scopes: []}
      """
    )
    #expect(table.names == ["trainer", "ops", "reflect-only"])
    #expect(
      table.identify(token: "trainer-token-0123456789")
        == TokenIdentity(name: "trainer", scopes: [.feedback, .score])
    )
    #expect(table.identify(token: "admin-token-abcdefgh")?.name == "ops")
    #expect(table.identify(token: "reflection-token-0001")?.scopes == [])
    #expect(table.identify(token: "admin-token-abcdefg") == nil)
    #expect(table.identify(token: "") == nil)
    #expect(try parse("tokens: []").identify(token: "anything") == nil)
  }

  @Test func badFilesAreRefusedWithTheReason() {
    let cases: [(String, String)] = [
      ("- name: a", "must be a mapping"),
      ("tokens: []\nextra: 1", "unknown key 'extra'"),
      ("tokens: {a: 1}", "'tokens' must be a list"),
      (
        "tokens: [{name: a, token: aaaaaaaaaaaaaaaa, scopes: [admin], note: x}]",
        "unknown key 'note'"
      ),
      ("tokens: [{token: aaaaaaaaaaaaaaaa, scopes: [admin]}]", "'name'"),
      ("tokens: [{name: a, scopes: [admin]}]", "exactly one of"),
      (
        "tokens: [{name: a, token: aaaaaaaaaaaaaaaa, token_sha256: \(Self.hex), scopes: []}]",
        "exactly one of"
      ),
      ("tokens: [{name: a, token_sha256: abc, scopes: [admin]}]", "64 hex digits"),
      ("tokens: [{name: a, token: short, scopes: [admin]}]", "16-4096"),
      ("tokens: [{name: a, token: aaaaaaaaaaaaaaaa, scopes: [root]}]", "unknown scope 'root'"),
      ("tokens: [{name: a, token: aaaaaaaaaaaaaaaa}]", "'scopes' must be a list"),
      (
        "tokens: [{name: a, token: aaaaaaaaaaaaaaaa, scopes: []}, {name: a, token: bbbbbbbbbbbbbbbb, scopes: []}]",
        "used twice"
      ),
      (
        "tokens: [{name: a, token: aaaaaaaaaaaaaaaa, scopes: []}, {name: b, token: aaaaaaaaaaaaaaaa, scopes: []}]",
        "listed twice"
      ),
      ("tokens: [", "not valid YAML"),
    ]
    for (yaml, expected) in cases {
      do {
        _ = try parse(yaml)
        Issue.record("accepted: \(yaml)")
      } catch {
        #expect(error.message.contains(expected), "\(yaml): \(error.message)")
        #expect(error.message.hasPrefix("tokens file tokens.yaml"))
        #expect(
          !error.message.contains("aaaaaaaaaaaaaaaa"),
          "the token is echoed: \(error.message)"
        )
      }
    }
  }

  @Test func worldAccessibleFilesAreRefusedAndReloadKeepsOldTokensOnError() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("tokens-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("tokens.yaml").path
    let first = "tokens: [{name: one, token: first-token-00000001, scopes: [generate]}]"
    try first.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o644)
    #expect(throws: ConfigurationError.self) { _ = try TokenStore(path: path) }
    do { _ = try TokenStore(path: path) } catch {
      #expect(error.message.contains("mode 644"))
      #expect(error.message.contains("chmod o-rwx"))
    }
    chmod(path, 0o640)
    let store = try TokenStore(path: path)
    #expect(store.identify(token: "first-token-00000001")?.name == "one")
    // A broken file keeps the old tokens.
    try "tokens: [{name: two}]".write(toFile: path, atomically: false, encoding: .utf8)
    #expect(throws: ConfigurationError.self) { try store.reload() }
    #expect(store.identify(token: "first-token-00000001")?.name == "one")
    // A good one replaces them.
    try "tokens: [{name: two, token: second-token-0000002, scopes: [admin]}]"
      .write(toFile: path, atomically: false, encoding: .utf8)
    try store.reload()
    #expect(store.identify(token: "first-token-00000001") == nil)
    #expect(store.identify(token: "second-token-0000002")?.name == "two")
    #expect(throws: ConfigurationError.self) { _ = try TokenStore(path: path + ".missing") }
  }

  @Test func configurationNamesTheFileNeverTheTokens() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: "auth: {tokens_file: /etc/rlhfd/t.yaml}"
    )
    #expect(configuration.auth == AuthSettings(tokensFile: "/etc/rlhfd/t.yaml"))
    #expect(throws: ConfigurationError.self) {
      _ = try DaemonConfiguration.parse(yaml: "auth: {tokens: [a]}")
    }
    #expect(throws: ConfigurationError.self) {
      _ = try DaemonConfiguration.parse(yaml: "auth: {tokens_file: ''}")
    }
    #expect(try DaemonConfiguration.parse(yaml: "").auth == nil)
  }
}
