// Where finished generations go, so that feedback can point at them (the feedback store). Called
// on the scheduler thread when a generation ends: an implementation must only queue the record
// (the store's group committer writes it), never wait.

/// One finished generation with everything a PPO sample needs.
public struct FinishedGeneration: Sendable {
  public let request: GenerationRequest
  /// The request's images' SHA-256 (hex), in order.
  public let imageHashes: [String]
  /// The seed the sampler ran with (drawn at random when the request set none).
  public let seed: UInt64
  public let maxNewTokens: Int
  public let result: GenerationResult
  /// The model's log-probability of every generated token (whether or not the client asked).
  public let logprobs: [Float]

  public init(
    request: GenerationRequest,
    imageHashes: [String],
    seed: UInt64,
    maxNewTokens: Int,
    result: GenerationResult,
    logprobs: [Float]
  ) {
    self.request = request
    self.imageHashes = imageHashes
    self.seed = seed
    self.maxNewTokens = maxNewTokens
    self.result = result
    self.logprobs = logprobs
  }
}

public protocol GenerationRecorder: Sendable {
  func record(_ generation: FinishedGeneration)
}
