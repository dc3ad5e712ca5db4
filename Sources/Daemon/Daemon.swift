// The composition root: builds the services, the bridge and the service group, and runs them
// until SIGTERM or SIGINT.
import GRPCBridge
import GRPCCore
public import Logging
import ServiceLifecycle
import Services
import UnixSignals

public enum Daemon {
  /// Serves until a termination signal; throws when it cannot start (e.g. the port is in use).
  public static func serve(configuration: DaemonConfiguration, logger: Logger) async throws {
    let health = HealthStatusStore(
      services: ServiceCatalog.serviceNames(debug: configuration.debugService)
    )
    let notifier = SystemdNotifier(environment: ProcessEnvironment.current)
    let bridge = BridgeServerTransport(configuration: try configuration.bridgeConfiguration()) {
      addresses in
      health.setAll(.serving)
      logger.notice("serving", metadata: ["addresses": .string(addresses.joined(separator: " "))])
      notifier.ready(status: "serving on \(addresses.joined(separator: " "))")
    }
    let server = GRPCServer(
      transport: bridge,
      services: ServiceCatalog.services(
        health: health,
        debug: configuration.debugService,
        logger: logger
      )
    )
    let group = ServiceGroup(
      configuration: .init(
        services: [
          .init(
            service: GRPCServerService(
              server: server,
              health: health,
              notifier: notifier,
              logger: logger
            )
          )
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      )
    )
    try await group.run()
  }
}
