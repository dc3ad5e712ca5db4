// The native side of rlhfd.v1.Reward: what the service hands to whatever runs the reward
// model, and what comes back. No proto types here; Serving's `RewardRunner` implements
// `RewardBackend`.

/// Ground truth about the image and question (rlhfd.v1.Facts).
public struct RewardFacts: Sendable, Equatable {
  /// Captions listed under the "Accurate" criterion of the reward prompt.
  public var captions: [String] = []
  /// Multiple-choice options, in the order shown to the policy.
  public var choices: [String] = []
  /// Index into `choices` of the correct option; nil = unknown.
  public var correctChoice: Int?
  /// The correct yes/no answer; nil = not a yes/no question.
  public var yesNoAnswer: Bool?

  public init() {}
}

/// A validated Score request (responses given by text).
public struct RewardRequest: Sendable, Equatable {
  public var prompt: String
  public var image: GenerationImage
  public var responses: [String]
  /// nil = the non-factual reward prompt and no symbolic correctness.
  public var facts: RewardFacts?
  public var priority = RequestPriority.interactive
  /// When the client stops waiting (its gRPC deadline); never computed after it.
  public var deadline: ContinuousClock.Instant?

  public init(
    prompt: String,
    image: GenerationImage,
    responses: [String],
    facts: RewardFacts? = nil
  ) {
    self.prompt = prompt
    self.image = image
    self.responses = responses
    self.facts = facts
  }
}

/// The reward of one response; `total` is the sum of the other four.
public struct RewardBreakdown: Sendable, Equatable {
  public var total: Float
  public var modelScore: Float
  public var correctness: Float
  public var lengthPenalty: Float
  public var eosPenalty: Float

  public init(modelScore: Float, correctness: Float, lengthPenalty: Float, eosPenalty: Float) {
    self.modelScore = modelScore
    self.correctness = correctness
    self.lengthPenalty = lengthPenalty
    self.eosPenalty = eosPenalty
    self.total = modelScore + correctness + lengthPenalty + eosPenalty
  }
}

/// The rewards of a Score request, one per response in order.
public struct RewardResult: Sendable, Equatable {
  public var rewards: [RewardBreakdown]
  public var rewardModelVersion: String
  public var promptTokens: Int
  public var completionTokens: Int
  public var queueTimeMs: Double
  public var computeTimeMs: Double

  public init(
    rewards: [RewardBreakdown],
    rewardModelVersion: String,
    promptTokens: Int,
    completionTokens: Int,
    queueTimeMs: Double,
    computeTimeMs: Double
  ) {
    self.rewards = rewards
    self.rewardModelVersion = rewardModelVersion
    self.promptTokens = promptTokens
    self.completionTokens = completionTokens
    self.queueTimeMs = queueTimeMs
    self.computeTimeMs = computeTimeMs
  }
}

/// Scores responses. Errors are `BackendError`s (mapped to gRPC codes by the service).
public protocol RewardBackend: Sendable {
  func score(_ request: RewardRequest) async throws -> RewardResult
}
