// Bearer tokens with scopes: with `auth` configured every RPC needs `authorization: Bearer
// <token>` metadata, except grpc.health.v1.Health (the only anonymous service). Each service
// needs one scope; reflection needs any valid token. Who holds which token is the composition
// root's business (a `BearerTokenVerifier`); this file maps services to scopes and answers
// UNAUTHENTICATED / PERMISSION_DENIED. Admin RPCs and every refusal go to the audit log
// (`AuthInterceptor+Audit.swift`). The token itself is never logged nor echoed.
import API
public import GRPCCore
public import Logging

/// What a token may call.
public enum AuthScope: String, CaseIterable, Sendable, Hashable {
  case generate, score, feedback, admin
}

/// The holder of a valid token: its name (for the audit log) and its scopes.
public struct TokenIdentity: Sendable, Equatable {
  public var name: String
  public var scopes: Set<AuthScope>

  public init(name: String, scopes: Set<AuthScope>) {
    self.name = name
    self.scopes = scopes
  }
}

/// Tells who holds a presented token (compared in constant time by the implementation).
public protocol BearerTokenVerifier: Sendable {
  /// The identity of `token`, nil when no configured token matches.
  func identify(token: String) -> TokenIdentity?
}

/// What a service asks of the caller.
public enum AuthRequirement: Sendable, Equatable {
  /// No token (grpc.health.v1.Health).
  case anonymous
  /// Any valid token (server reflection).
  case anyToken
  /// A valid token carrying this scope.
  case scope(AuthScope)

  /// The requirement of a fully qualified service; a service not listed needs `admin`.
  public static func of(service: String) -> AuthRequirement {
    switch service {
    case Grpc_Health_V1_Health.descriptor.fullyQualifiedService: .anonymous
    case Rlhfd_V1_Policy.descriptor.fullyQualifiedService: .scope(.generate)
    case Rlhfd_V1_Reward.descriptor.fullyQualifiedService: .scope(.score)
    case Rlhfd_V1_Feedback.descriptor.fullyQualifiedService: .scope(.feedback)
    case Rlhfd_V1_Admin.descriptor.fullyQualifiedService: .scope(.admin)
    case Rlhfd_V1_Debug.descriptor.fullyQualifiedService: .scope(.admin)
    case _ where service.hasPrefix("grpc.reflection."): .anyToken
    default: .scope(.admin)
    }
  }
}

/// Checks the bearer token and scope of every RPC; audits Admin RPCs and refusals.
public struct AuthInterceptor: ServerInterceptor {
  let verifier: any BearerTokenVerifier
  let logger: Logger

  public init(verifier: any BearerTokenVerifier, logger: Logger) {
    self.verifier = verifier
    self.logger = logger
  }

  /// The metadata key (lower case, as HTTP/2 sends it).
  public static let key = "authorization"

  /// The caller's identity, or the refusal: UNAUTHENTICATED (no, malformed or unknown
  /// token) or PERMISSION_DENIED (valid token without the scope).
  public static func authorize(
    _ metadata: Metadata,
    requirement: AuthRequirement,
    verifier: any BearerTokenVerifier
  ) -> Result<TokenIdentity?, AuthRefusal> {
    if requirement == .anonymous { return .success(nil) }
    let values = Array(metadata[stringValues: key])
    guard let value = values.first else {
      return .failure(
        AuthRefusal(
          .unauthenticated,
          "this RPC needs 'authorization: Bearer <token>' metadata",
          name: nil
        )
      )
    }
    guard values.count == 1, let token = Self.bearerToken(value) else {
      return .failure(
        AuthRefusal(
          .unauthenticated,
          "the 'authorization' metadata must be one 'Bearer <token>' value",
          name: nil
        )
      )
    }
    guard let identity = verifier.identify(token: token) else {
      return .failure(
        AuthRefusal(
          .unauthenticated,
          "the bearer token is not valid (unknown or revoked)",
          name: nil
        )
      )
    }
    if case .scope(let scope) = requirement, !identity.scopes.contains(scope) {
      return .failure(
        AuthRefusal(
          .permissionDenied,
          "this RPC needs a token with the '\(scope.rawValue)' scope",
          name: identity.name
        )
      )
    }
    return .success(identity)
  }

  /// The token of `Bearer <token>` (scheme case-insensitive; the token printable ASCII).
  static func bearerToken(_ value: String) -> String? {
    let prefix = "bearer "
    guard value.utf8.count > prefix.utf8.count, value.lowercased().hasPrefix(prefix) else {
      return nil
    }
    let token = String(value.dropFirst(prefix.count)).trimmingSpaces
    guard !token.isEmpty, token.utf8.count <= 4096,
      token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
    else { return nil }
    return token
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
      StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let service = context.descriptor.service.fullyQualifiedService
    let method = context.descriptor.fullyQualifiedMethod
    let requirement = AuthRequirement.of(service: service)
    switch Self.authorize(request.metadata, requirement: requirement, verifier: verifier) {
    case .failure(let refusal):
      Self.audit(logger, name: refusal.name, method: method, code: refusal.code)
      throw RPCError(code: refusal.code, message: refusal.message)
    case .success(let identity):
      guard service == Rlhfd_V1_Admin.descriptor.fullyQualifiedService else {
        return try await next(request, context)
      }
      let (logger, name) = (logger, identity?.name)
      return try await Self.observing(next, request, context) { code in
        Self.audit(logger, name: name, method: method, code: code)
      }
    }
  }
}

/// Why a call is refused (a status code and a message that never contains the token).
public struct AuthRefusal: Error, Sendable, Equatable {
  public var code: RPCError.Code
  public var message: String
  /// The token's name when the token was valid (a scope refusal).
  public var name: String?

  init(_ code: RPCError.Code, _ message: String, name: String?) {
    self.code = code
    self.message = message
    self.name = name
  }
}

extension String {
  fileprivate var trimmingSpaces: String {
    var s = Substring(self)
    while s.first == " " { s.removeFirst() }
    while s.last == " " { s.removeLast() }
    return String(s)
  }
}
