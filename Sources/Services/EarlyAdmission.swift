// The early refusal of requests to a full model: the bridge asks, when a call arrives and before
// any handler runs, whether Generate, GenerateStream or Score would be refused at once because
// the model's admission queue is full; if so it answers RESOURCE_EXHAUSTED from its poller thread
// (no task, no interceptor, no decoding). Calls that bearer tokens would refuse are left to the
// interceptors, so a client without a valid token never learns the load.
import API
public import GRPCCore
public import ServingTypes

extension ServiceCatalog {
  /// The bridge's admission check (`BridgeServerTransport(admission:)`); nil when there is no
  /// model to ask.
  public static func earlyAdmission(
    policy: (any OverloadSignal)?,
    reward: (any OverloadSignal)?,
    tokens: (any BearerTokenVerifier)?
  ) -> (@Sendable (MethodDescriptor, Metadata) -> RPCError?)? {
    guard policy != nil || reward != nil else { return nil }
    // By name: a descriptor the transport builds from the path carries no method type.
    let policyMethods = Set(
      [
        Rlhfd_V1_Policy.Method.Generate.descriptor,
        Rlhfd_V1_Policy.Method.GenerateStream.descriptor,
      ]
      .map(\.fullyQualifiedMethod)
    )
    let rewardMethods: Set = [Rlhfd_V1_Reward.Method.Score.descriptor.fullyQualifiedMethod]
    return { method, metadata in
      let name = method.fullyQualifiedMethod
      let signal: (any OverloadSignal)? =
        policyMethods.contains(name) ? policy : rewardMethods.contains(name) ? reward : nil
      guard let signal, let refusal = signal.overloaded else { return nil }
      if let tokens {
        let requirement = AuthRequirement.of(service: method.service.fullyQualifiedService)
        guard
          case .success = AuthInterceptor.authorize(
            metadata,
            requirement: requirement,
            verifier: tokens
          )
        else { return nil }
      }
      return PolicyService.rpcError(refusal)
    }
  }
}
