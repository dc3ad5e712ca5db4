// grpc.health.v1.Health (doc/health-checking.md): Check answers the stored status or NOT_FOUND;
// Watch sends the current status at once, then every change, and SERVICE_UNKNOWN for a name the
// daemon does not serve (the spec keeps such streams open: the service may appear later).
import API
import GRPCCore
import SwiftProtobuf

struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  let store: HealthStatusStore

  func check(
    request: Grpc_Health_V1_HealthCheckRequest,
    context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard let status = self.store.status(of: request.service) else {
      throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
    }
    return .with { $0.status = Self.wire(status) }
  }

  func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    for await status in self.store.watch(request.service) {
      try await response.write(.with { $0.status = status.map(Self.wire) ?? .serviceUnknown })
    }
  }

  static func wire(_ status: ServingStatus) -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
    switch status {
    case .serving: .serving
    case .notServing: .notServing
    }
  }
}
