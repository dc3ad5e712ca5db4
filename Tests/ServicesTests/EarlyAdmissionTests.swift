// The bridge's early refusal as the daemon wires it: only Generate, GenerateStream (policy) and
// Score (reward) are refused, only while that model says it is overloaded, with the backend's
// status and message, and never for a call the bearer tokens would refuse.
import API
import GRPCCore
import ServingTypes
import Testing

@testable import Services

private struct Signal: OverloadSignal {
  var overloaded: BackendError?
}

@Suite struct EarlyAdmissionTests {
  private let full = BackendError(
    .resourceExhausted,
    "the preprocessing queue is full; retry later"
  )

  private func method(_ path: String) -> MethodDescriptor {
    let parts = path.split(separator: "/")
    return MethodDescriptor(fullyQualifiedService: String(parts[0]), method: String(parts[1]))
  }

  @Test func refusesOnlyTheFullModelsGenerationAndScoring() throws {
    let check = try #require(
      ServiceCatalog.earlyAdmission(
        policy: Signal(overloaded: full),
        reward: Signal(overloaded: nil),
        tokens: nil
      )
    )
    for path in ["rlhfd.v1.Policy/Generate", "rlhfd.v1.Policy/GenerateStream"] {
      let refusal = check(method(path), [:])
      #expect(refusal?.code == .resourceExhausted, "\(path)")
      #expect(refusal?.message == full.message)
    }
    #expect(check(method("rlhfd.v1.Reward/Score"), [:]) == nil)  // the reward model has room
    #expect(check(method("grpc.health.v1.Health/Check"), [:]) == nil)
    #expect(check(method("rlhfd.v1.Feedback/Submit"), [:]) == nil)
  }

  @Test func leavesCallsWithoutAValidTokenToTheInterceptors() throws {
    let check = try #require(
      ServiceCatalog.earlyAdmission(
        policy: Signal(overloaded: nil),
        reward: Signal(overloaded: full),
        tokens: FixedTokens()
      )
    )
    let score = method("rlhfd.v1.Reward/Score")
    #expect(check(score, [:]) == nil)  // no token: UNAUTHENTICATED comes from the interceptor
    #expect(check(score, ["authorization": "Bearer admin-token-000001"]) == nil)  // no score scope
    let refusal = check(score, ["authorization": "Bearer reader-token-0001"])
    #expect(refusal?.code == .resourceExhausted)
  }

  @Test func noModelNoCheck() {
    #expect(ServiceCatalog.earlyAdmission(policy: nil, reward: nil, tokens: nil) == nil)
  }
}
