// The tokens in force, replaced whole on SIGHUP: a file that fails to load leaves the old
// tokens in place (the caller logs why), so a typo never opens or closes the daemon.
import Logging
public import Services
public import Serving
import Synchronization

public final class TokenStore: BearerTokenVerifier, Sendable {
  public let path: String
  private let table: Mutex<TokenTable>

  /// Reads `path` (a start-up error when it cannot be used).
  public init(path: String) throws(ConfigurationError) {
    self.path = path
    self.table = Mutex(try TokenTable.load(path: path))
  }

  public var current: TokenTable { table.withLock { $0 } }

  public func identify(token: String) -> TokenIdentity? {
    current.identify(token: token)
  }

  /// Re-reads the file; on success the new tokens replace the old ones at once.
  @discardableResult
  public func reload() throws(ConfigurationError) -> TokenTable {
    let fresh = try TokenTable.load(path: path)
    table.withLock { $0 = fresh }
    return fresh
  }
}
