// rlhfd.v1.Policy: validates requests; generation needs the inference engine.
import API
import GRPCCore

struct PolicyService: Rlhfd_V1_Policy.SimpleServiceProtocol {
  let limits: RequestLimits

  func generate(
    request: Rlhfd_V1_GenerateRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_GenerateResponse {
    try Validation.check(request, limits: self.limits)
    throw NotBuilt.error("Policy.Generate", needs: "inference engine")
  }

  func generateStream(
    request: Rlhfd_V1_GenerateRequest,
    response: RPCWriter<Rlhfd_V1_GenerateChunk>,
    context: ServerContext
  ) async throws {
    try Validation.check(request, limits: self.limits)
    throw NotBuilt.error("Policy.GenerateStream", needs: "inference engine")
  }
}

/// rlhfd.v1.Reward: validates requests; scoring needs the reward model.
struct RewardService: Rlhfd_V1_Reward.SimpleServiceProtocol {
  let limits: RequestLimits

  func score(
    request: Rlhfd_V1_ScoreRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_ScoreResponse {
    try Validation.check(request, limits: self.limits)
    throw NotBuilt.error("Reward.Score", needs: "reward model")
  }
}
