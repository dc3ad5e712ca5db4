import API
import GRPCCore
import GRPCInProcessTransport
import Logging
import Services
import ServingTypes

/// Runs the daemon's real services over GRPCInProcessTransport (no sockets, no C) for the
/// duration of `body`.
func withServices<Result: Sendable>(
  debug: Bool = true,
  policy: (any PolicyBackend)? = nil,
  modelInfo: ModelInfoSource? = nil,
  probeImage: ImageProbe? = nil,
  versions: (any PolicyVersionAdmin)? = nil,
  tokens: (any BearerTokenVerifier)? = nil,
  trainer: (any TrainerControl)? = nil,
  _ body: (GRPCClient<InProcessTransport.Client>, HealthStatusStore) async throws -> Result
) async throws -> Result {
  let health = HealthStatusStore(services: ServiceCatalog.serviceNames(debug: debug))
  health.setAll(.serving)
  let transport = InProcessTransport()
  let services = ServiceCatalog.services(
    health: health,
    debug: debug,
    policy: policy,
    versions: versions,
    modelInfo: modelInfo,
    probeImage: probeImage,
    trainer: trainer,
    logger: Logger(label: "test")
  )
  let interceptors = ServiceCatalog.interceptors(logger: Logger(label: "test"), tokens: tokens)
  return try await withGRPCServer(
    transport: transport.server,
    services: services,
    interceptors: interceptors
  ) { _ in
    try await withGRPCClient(transport: transport.client) { client in
      try await body(client, health)
    }
  }
}

/// The code and message of the RPCError `body` throws; fails the test when it succeeds.
func rpcError(_ body: () async throws -> Void) async -> RPCError? {
  do {
    try await body()
    return nil
  } catch let error as RPCError {
    return error
  } catch {
    return RPCError(code: .unknown, message: "not an RPCError: \(error)")
  }
}
