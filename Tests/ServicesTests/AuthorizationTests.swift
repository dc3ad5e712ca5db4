// Bearer tokens and scopes: the service -> scope table, the `authorization` value's parsing, and
// the interceptor over the in-process transport (UNAUTHENTICATED / PERMISSION_DENIED / served).
import API
import GRPCCore
import Testing

@testable import Services

/// Two fixed tokens: `reader-token-0001` (generate, score) and `admin-token-000001` (admin).
struct FixedTokens: BearerTokenVerifier {
  func identify(token: String) -> TokenIdentity? {
    switch token {
    case "reader-token-0001": TokenIdentity(name: "reader", scopes: [.generate, .score])
    case "admin-token-000001": TokenIdentity(name: "ops", scopes: [.admin])
    default: nil
    }
  }
}

@Suite struct AuthorizationTests {
  @Test func everyServiceHasItsScope() {
    #expect(AuthRequirement.of(service: "grpc.health.v1.Health") == .anonymous)
    #expect(AuthRequirement.of(service: "rlhfd.v1.Policy") == .scope(.generate))
    #expect(AuthRequirement.of(service: "rlhfd.v1.Reward") == .scope(.score))
    #expect(AuthRequirement.of(service: "rlhfd.v1.Feedback") == .scope(.feedback))
    #expect(AuthRequirement.of(service: "rlhfd.v1.Admin") == .scope(.admin))
    #expect(AuthRequirement.of(service: "rlhfd.v1.Debug") == .scope(.admin))
    #expect(AuthRequirement.of(service: "grpc.reflection.v1.ServerReflection") == .anyToken)
    #expect(AuthRequirement.of(service: "grpc.reflection.v1alpha.ServerReflection") == .anyToken)
    // Anything unlisted fails closed.
    #expect(AuthRequirement.of(service: "rlhfd.v1.Future") == .scope(.admin))
    for name in ServiceCatalog.serviceNames(debug: true) where name != "grpc.health.v1.Health" {
      #expect(AuthRequirement.of(service: name) != .anonymous, "\(name)")
    }
  }

  @Test func bearerValuesAreParsedStrictly() {
    #expect(AuthInterceptor.bearerToken("Bearer abc") == "abc")
    #expect(AuthInterceptor.bearerToken("bearer  abc ") == "abc")
    #expect(AuthInterceptor.bearerToken("Basic abc") == nil)
    #expect(AuthInterceptor.bearerToken("Bearer ") == nil)
    #expect(AuthInterceptor.bearerToken("Bearer a b") == nil)
    #expect(AuthInterceptor.bearerToken("abc") == nil)
  }

  @Test func refusalsNeverEchoTheToken() {
    func check(_ value: String?, _ requirement: AuthRequirement) -> AuthRefusal? {
      var metadata = Metadata()
      if let value { metadata.addString(value, forKey: "authorization") }
      if case .failure(let refusal) = AuthInterceptor.authorize(
        metadata,
        requirement: requirement,
        verifier: FixedTokens()
      ) {
        return refusal
      }
      return nil
    }
    #expect(check(nil, .anonymous) == nil)
    #expect(check(nil, .anyToken)?.code == .unauthenticated)
    #expect(check("Bearer secret-guess-123", .anyToken)?.code == .unauthenticated)
    #expect(check("Bearer secret-guess-123", .anyToken)?.message.contains("secret") == false)
    #expect(check("Token secret-guess-123", .anyToken)?.message.contains("secret") == false)
    #expect(check("Bearer reader-token-0001", .anyToken) == nil)
    #expect(check("Bearer reader-token-0001", .scope(.score)) == nil)
    let denied = check("Bearer reader-token-0001", .scope(.admin))
    #expect(denied?.code == .permissionDenied)
    #expect(denied?.message.contains("'admin'") == true)
    #expect(denied?.name == "reader")
  }

  @Test func statusNamesAreCanonical() {
    #expect(AuthInterceptor.statusName(nil) == "OK")
    #expect(AuthInterceptor.statusName(.permissionDenied) == "PERMISSION_DENIED")
    #expect(AuthInterceptor.statusName(.unauthenticated) == "UNAUTHENTICATED")
    #expect(AuthInterceptor.statusName(.unavailable) == "UNAVAILABLE")
  }

  @Test func theInterceptorGuardsEveryServiceButHealth() async throws {
    try await withServices(tokens: FixedTokens()) { client, _ in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      let status = try await health.check(.init()).status
      #expect(status == .serving)
      let admin = Rlhfd_V1_Admin.Client(wrapping: client)
      var error = await rpcError { _ = try await admin.getModelInfo(.init()) }
      #expect(error?.code == .unauthenticated)
      var metadata: Metadata = ["authorization": "Bearer reader-token-0001"]
      error = await rpcError { _ = try await admin.getModelInfo(.init(), metadata: metadata) }
      #expect(error?.code == .permissionDenied)
      #expect(error?.message.contains("'admin'") == true)
      metadata = ["authorization": "Bearer admin-token-000001"]
      error = await rpcError { _ = try await admin.getModelInfo(.init(), metadata: metadata) }
      #expect(error?.code == .unimplemented)  // authorized; no model source in this harness
      let policy = Rlhfd_V1_Policy.Client(wrapping: client)
      error = await rpcError { _ = try await policy.generate(.init(), metadata: metadata) }
      #expect(error?.code == .permissionDenied)
      #expect(error?.message.contains("'generate'") == true)
      metadata = ["authorization": "Bearer reader-token-0001"]
      error = await rpcError {
        var request = Rlhfd_V1_GenerateRequest()
        request.prompt = "hi"
        _ = try await policy.generate(request, metadata: metadata)
      }
      #expect(error?.code == .unimplemented)  // authorized; no policy backend
    }
  }
}
