// The gRPC server as a ServiceLifecycle service. On graceful shutdown (SIGTERM/SIGINT) the order
// is: STOPPING=1 to systemd, health NOT_SERVING (and watch streams end), then the transport stops
// accepting and drains in-flight calls up to the drain timeout.
import GRPCBridge
import GRPCCore
import Logging
import ServiceLifecycle
import Services

struct GRPCServerService: Service {
  let server: GRPCServer<BridgeServerTransport>
  let health: HealthStatusStore
  let notifier: SystemdNotifier
  let logger: Logger

  func run() async throws {
    try await withGracefulShutdownHandler {
      do {
        try await self.server.serve()
      } catch let error as RuntimeError {
        // GRPCServer wraps the transport's error; the bridge's message is the useful one.
        if let cause = error.cause as? BridgeError { throw cause }
        throw error
      }
    } onGracefulShutdown: {
      self.logger.notice("shutting down: draining in-flight calls")
      self.notifier.stopping(status: "draining")
      self.health.close()
      self.server.beginGracefulShutdown()
    }
    self.logger.notice("stopped")
  }
}
