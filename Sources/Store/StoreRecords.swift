// What the store keeps, in its own types (the store knows nothing of the API above it): feedback
// (preferences, RL prompts, ratings), the generations feedback can point at, and the images they
// all refer to, content-addressed by SHA-256.

/// Ground truth that comes with a prompt (LLaVA-RLHF's facts).
public struct StoredFacts: Sendable, Equatable, Codable {
  public var captions: [String] = []
  public var choices: [String] = []
  /// Index into `choices`; nil = none.
  public var correctChoice: Int?
  /// The answer of a yes/no question; nil = not one.
  public var yesNoAnswer: Bool?

  public init() {}
}

/// An image given by its bytes (stored once under `sha256`) or by the hash of one stored before.
public enum ImageRef: Sendable, Equatable {
  /// `sha256` is the lowercase hex SHA-256 of `bytes`, computed by the caller.
  case bytes(sha256: String, [UInt8])
  case sha256(String)

  public var sha256: String {
    switch self {
    case .bytes(let hash, _), .sha256(let hash): hash
    }
  }
}

/// A response given as text, or as the id of a stored generation.
public enum ResponseRef: Sendable, Equatable, Codable {
  case text(String)
  case generation(String)
}

/// A human preference between two responses to one image and prompt.
public struct PreferenceRecord: Sendable, Equatable {
  public var image: ImageRef
  public var prompt: String
  public var response1: ResponseRef
  public var response2: ResponseRef
  /// 1 or 2: the better (less hallucinated) response.
  public var preferred: Int
  public var response1Hallucinated = false
  public var response2Hallucinated = false
  public var datasetFlag = false
  public var facts: StoredFacts?

  public init(
    image: ImageRef,
    prompt: String,
    response1: ResponseRef,
    response2: ResponseRef,
    preferred: Int
  ) {
    self.image = image
    self.prompt = prompt
    self.response1 = response1
    self.response2 = response2
    self.preferred = preferred
  }
}

/// An RL prompt for PPO rollouts.
public struct PromptRecord: Sendable, Equatable {
  public var image: ImageRef
  public var prompt: String
  public var facts: StoredFacts?
  /// The length term's multiplier m (LLaVA-RLHF's `length_bonus`); 1 when the client gave none.
  public var lengthBonus: Float = 1
  public var clientID = ""

  public init(image: ImageRef, prompt: String) {
    self.image = image
    self.prompt = prompt
  }
}

/// A score for a stored generation.
public struct RatingRecord: Sendable, Equatable {
  public var generationID: String
  /// In [-1, 1].
  public var score: Float
  public var hallucinated: Bool?

  public init(generationID: String, score: Float) {
    self.generationID = generationID
    self.score = score
  }
}

/// How a generation was sampled (stored as JSON).
public struct StoredSampling: Sendable, Equatable, Codable {
  public var maxNewTokens: Int
  public var temperature: Float
  public var topK: Int
  public var topP: Float
  public var repetitionPenalty: Float
  public var seed: UInt64
  public var stop: [String]

  public init(
    maxNewTokens: Int,
    temperature: Float,
    topK: Int,
    topP: Float,
    repetitionPenalty: Float,
    seed: UInt64,
    stop: [String]
  ) {
    self.maxNewTokens = maxNewTokens
    self.temperature = temperature
    self.topK = topK
    self.topP = topP
    self.repetitionPenalty = repetitionPenalty
    self.seed = seed
    self.stop = stop
  }
}

/// One Generate or GenerateStream, as PPO needs it: the exact tokens and their log-probabilities
/// under the version that produced them.
public struct GenerationRecord: Sendable, Equatable {
  public var id: String
  public var createdUnixMs: Int64
  public var policyVersion: String
  public var prompt: String
  public var rawPrompt: Bool
  public var template: String
  public var images: [ImageRef]
  public var sampling: StoredSampling
  public var promptTokenCount: Int
  public var tokenIds: [Int32]
  /// One per token (the model's, at temperature 1).
  public var logprobs: [Float]
  public var text: String
  public var finishReason: String
  public var queueMs: Double
  public var computeMs: Double

  public init(
    id: String,
    createdUnixMs: Int64,
    policyVersion: String,
    prompt: String,
    rawPrompt: Bool,
    template: String,
    images: [ImageRef],
    sampling: StoredSampling,
    promptTokenCount: Int,
    tokenIds: [Int32],
    logprobs: [Float],
    text: String,
    finishReason: String,
    queueMs: Double,
    computeMs: Double
  ) {
    self.id = id
    self.createdUnixMs = createdUnixMs
    self.policyVersion = policyVersion
    self.prompt = prompt
    self.rawPrompt = rawPrompt
    self.template = template
    self.images = images
    self.sampling = sampling
    self.promptTokenCount = promptTokenCount
    self.tokenIds = tokenIds
    self.logprobs = logprobs
    self.text = text
    self.finishReason = finishReason
    self.queueMs = queueMs
    self.computeMs = computeMs
  }
}

/// What a durable submission returns.
public struct StoreAck: Sendable, Equatable {
  /// One id per stored record, in submission order.
  public var ids: [String]
  /// The idempotency key was seen before with the same content: these are the original ids.
  public var duplicate: Bool

  public init(ids: [String], duplicate: Bool = false) {
    self.ids = ids
    self.duplicate = duplicate
  }
}

/// Feedback that training has not consumed yet.
public struct PendingCounts: Sendable, Equatable {
  public var preferences = 0
  public var prompts = 0
  public var ratings = 0

  public init() {}
}
