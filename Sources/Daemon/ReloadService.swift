// SIGHUP re-reads what can change without a restart: the tokens file. A bad file keeps the old
// tokens and logs an error. SIGHUP is trapped even without `auth` (it never ends the daemon).
import Logging
import ServiceLifecycle
import Serving
import UnixSignals

struct ReloadService: Service {
  let tokens: TokenStore?
  let logger: Logger

  func run() async throws {
    let signals = await UnixSignalsSequence(trapping: .sighup)
    for await _ in signals.cancelOnGracefulShutdown() {
      self.reload()
    }
  }

  func reload() {
    guard let tokens else {
      logger.notice("SIGHUP: nothing to reload (no 'auth' configured)")
      return
    }
    do {
      let table = try tokens.reload()
      logger.notice(
        "SIGHUP: tokens reloaded",
        metadata: [
          "tokens_file": .string(tokens.path), "tokens": "\(table.names.count)",
          "names": .string(table.names.joined(separator: ",")),
        ]
      )
    } catch {
      logger.error(
        "SIGHUP: the tokens file was not reloaded; the previous tokens stay in force",
        metadata: ["error": .string(error.message)]
      )
    }
  }
}
