// rlhfd.v1.Reward: validates requests, converts them to native types and scores them on the
// `RewardBackend`; without a backend (a daemon started with no model) answers UNIMPLEMENTED.
// `generation_ids` are read back from the feedback store (RewardService+Generations.swift).
import API
import GRPCCore
import ServingTypes
import Store

struct RewardService: Rlhfd_V1_Reward.SimpleServiceProtocol {
  let limits: RequestLimits
  let backend: (any RewardBackend)?
  /// The client's deadline of a call, as the transport knows it.
  var deadline: @Sendable (ServerContext) -> ContinuousClock.Instant? = { _ in nil }
  /// Where `generation_ids` are looked up (nil: Score by generation ids is unavailable).
  var store: (any FeedbackStore)? = nil

  func score(
    request: Rlhfd_V1_ScoreRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_ScoreResponse {
    try Validation.check(request, limits: self.limits)
    guard let backend else {
      throw NotBuilt.error("Reward.Score", needs: "reward model loaded (started with --no-model)")
    }
    var request = request
    if !request.generationIds.isEmpty {
      request = try Self.resolvingGenerations(request, store: store)
    }
    do {
      return Self.response(
        try await backend.score(Self.native(request, deadline: deadline(context)))
      )
    } catch {
      throw PolicyService.rpcError(error)
    }
  }

  static func native(
    _ request: Rlhfd_V1_ScoreRequest,
    deadline: ContinuousClock.Instant? = nil
  ) -> RewardRequest {
    let image: GenerationImage =
      switch request.image.source {
      case .sha256(let hash): .sha256(hash)
      case .data(let data): .data([UInt8](data))
      case .none: .data([])  // rejected by validation
      }
    var native = RewardRequest(prompt: request.prompt, image: image, responses: request.responses)
    native.priority = PolicyService.priority(request.priority)
    native.deadline = deadline
    if request.hasFacts { native.facts = RewardFacts(request.facts) }
    return native
  }

  static func response(_ result: RewardResult) -> Rlhfd_V1_ScoreResponse {
    var response = Rlhfd_V1_ScoreResponse()
    response.rewards = result.rewards.map { reward in
      var out = Rlhfd_V1_RewardBreakdown()
      out.total = reward.total
      out.modelScore = reward.modelScore
      out.correctness = reward.correctness
      out.lengthPenalty = reward.lengthPenalty
      out.eosPenalty = reward.eosPenalty
      return out
    }
    response.rewardModelVersion = result.rewardModelVersion
    var usage = Rlhfd_V1_Usage()
    usage.promptTokens = UInt32(clamping: result.promptTokens)
    usage.completionTokens = UInt32(clamping: result.completionTokens)
    usage.queueTimeMs = result.queueTimeMs
    usage.computeTimeMs = result.computeTimeMs
    response.usage = usage
    return response
  }
}
