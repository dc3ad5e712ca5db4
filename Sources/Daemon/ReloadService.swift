// SIGHUP re-reads what can change without a restart: the tokens file and the TLS certificate,
// key and client CA files. A file that fails keeps what is in force and logs an error. New TLS
// files serve the connections accepted afterwards; open connections and their calls go on.
// SIGHUP is trapped even with nothing to reload (it never ends the daemon).
import GRPCBridge
import Logging
import ServiceLifecycle
import Serving
import UnixSignals

struct ReloadService: Service {
  let tokens: TokenStore?
  let configuration: DaemonConfiguration
  let bridge: BridgeServerTransport
  let logger: Logger

  func run() async throws {
    let signals = await UnixSignalsSequence(trapping: .sighup)
    for await _ in signals.cancelOnGracefulShutdown() {
      self.reload()
    }
  }

  func reload() {
    if tokens == nil && configuration.tls == nil {
      logger.notice("SIGHUP: nothing to reload (neither 'auth' nor 'tls' configured)")
    }
    if let tokens { self.reloadTokens(tokens) }
    if let files = configuration.tls { self.reloadTLS(files) }
  }

  private func reloadTokens(_ tokens: TokenStore) {
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

  private func reloadTLS(_ files: DaemonConfiguration.TLSFiles) {
    do {
      guard let tls = try configuration.bridgeConfiguration().tls else { return }
      try bridge.reloadTLS(tls)
      logger.notice(
        "SIGHUP: TLS files reloaded for new connections",
        metadata: [
          "certificate": .string(files.certificate), "private_key": .string(files.privateKey),
          "client_ca": .string(files.clientCA ?? "-"),
        ]
      )
    } catch let error as ConfigurationError {
      logger.error(
        "SIGHUP: the TLS files were not reloaded; the previous certificate stays in force",
        metadata: ["error": .string(error.message)]
      )
    } catch {
      logger.error(
        "SIGHUP: the TLS files were not reloaded; the previous certificate stays in force",
        metadata: ["error": .string("\(error)")]
      )
    }
  }
}
