// Every service the daemon serves, built in one place.
import API
public import GRPCCore
public import Logging
public import ServingTypes
public import Store

public enum ServiceCatalog {
  /// Fully qualified names of the served services, as the health service knows them.
  public static func serviceNames(debug: Bool) -> [String] {
    var names = [
      Rlhfd_V1_Policy.descriptor, Rlhfd_V1_Reward.descriptor, Rlhfd_V1_Feedback.descriptor,
      Rlhfd_V1_Admin.descriptor, Grpc_Health_V1_Health.descriptor,
      Grpc_Reflection_V1_ServerReflection.descriptor,
      Grpc_Reflection_V1alpha_ServerReflection.descriptor,
    ].map(\.fullyQualifiedService)
    if debug { names.append(Rlhfd_V1_Debug.descriptor.fullyQualifiedService) }
    return names
  }

  /// Applied to every RPC: the request id and the access log (`RequestID.swift`), then, with
  /// `tokens`, bearer tokens and scopes (`Authorization.swift`; refusals carry the id too).
  public static func interceptors(
    logger: Logger,
    tokens: (any BearerTokenVerifier)? = nil
  ) -> [any ServerInterceptor] {
    var interceptors: [any ServerInterceptor] = [RequestIDInterceptor(logger: logger)]
    if let tokens { interceptors.append(AuthInterceptor(verifier: tokens, logger: logger)) }
    return interceptors
  }

  public static func services(
    health: HealthStatusStore,
    debug: Bool,
    limits: RequestLimits = RequestLimits(),
    policy: (any PolicyBackend)? = nil,
    reward: (any RewardBackend)? = nil,
    versions: (any PolicyVersionAdmin)? = nil,
    modelInfo: ModelInfoSource? = nil,
    probeImage: ImageProbe? = nil,
    store: (any FeedbackStore)? = nil,
    trainer: (any TrainerControl)? = nil,
    deadline: @escaping @Sendable (ServerContext) -> ContinuousClock.Instant? = { _ in nil },
    logger: Logger
  ) -> [any RegistrableRPCService] {
    let feedback = FeedbackService(
      limits: limits,
      probeImage: probeImage,
      store: store,
      trainer: trainer,
      versions: versions
    )
    var services: [any RegistrableRPCService] = [
      PolicyService(limits: limits, backend: policy, deadline: deadline),
      RewardService(limits: limits, backend: reward, deadline: deadline, store: store),
      feedback,
      AdminService(
        modelInfo: modelInfo,
        versions: versions,
        trainer: trainer,
        trainingStatus: { status throws(RPCError) in try feedback.trainingStatus(status) }
      ),
      HealthService(store: health),
      ReflectionService(services: serviceNames(debug: debug)),
      ReflectionServiceV1Alpha(v1: ReflectionService(services: serviceNames(debug: debug))),
    ]
    if debug {
      logger.warning("serving rlhfd.v1.Debug: for tests and diagnostics only")
      services.append(DebugService())
    }
    return services
  }
}
