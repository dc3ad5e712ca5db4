// The native side of rlhfd.v1.Policy: what the service hands to whatever runs the model, and
// what comes back. No proto types here: Services maps the API onto these types, Serving's
// `ModelRunner` implements `PolicyBackend` over the engine, and a trainer can call it directly.

/// An image of a generation request: encoded bytes, or the SHA-256 of bytes sent earlier.
public enum GenerationImage: Sendable, Equatable {
  case data([UInt8])
  case sha256(String)
}

/// How to pick tokens; values are already validated and defaulted (0 = disabled mapped away).
public struct GenerationSampling: Sendable, Equatable {
  /// nil = the backend's default (capped by the context).
  public var maxNewTokens: Int?
  /// 0 = greedy.
  public var temperature: Float = 0
  public var topK = 0
  /// 1 = off.
  public var topP: Float = 1
  /// 1 = off.
  public var repetitionPenalty: Float = 1
  public var stop: [String] = []
  /// nil = a random seed.
  public var seed: UInt64?
  public var logprobs = false

  public init() {}
}

/// What a backend would refuse every new request with right now (its admission queue is full),
/// for a transport that can answer before reading the request; nil = admit. A snapshot, checked
/// without waiting; the backend still checks again when the request arrives.
public protocol OverloadSignal: Sendable {
  var overloaded: BackendError? { get }
}

/// A validated generation request.
/// Scheduling class: waiting interactive requests are admitted before waiting batch requests.
public enum RequestPriority: Sendable, Equatable {
  case interactive, batch
}

public struct GenerationRequest: Sendable, Equatable {
  public var prompt: String
  public var images: [GenerationImage] = []
  public var rawPrompt = false
  /// "" = the promoted version.
  public var policyVersion = ""
  public var sampling = GenerationSampling()
  public var priority = RequestPriority.interactive
  /// When the client stops waiting (its gRPC deadline); never computed after it.
  public var deadline: ContinuousClock.Instant?

  public init(prompt: String) { self.prompt = prompt }
}

/// Why generation ended.
public enum GenerationFinishReason: Sendable, Equatable {
  case length, stop, eos
}

/// A finished generation.
public struct GenerationResult: Sendable, Equatable {
  public var text: String
  public var tokenIds: [Int32]
  /// One per token when logprobs were asked for.
  public var logprobs: [Float]?
  public var finishReason: GenerationFinishReason
  public var policyVersion: String
  public var generationId: String
  public var promptTokens: Int
  public var queueTimeMs: Double
  public var computeTimeMs: Double

  public init(
    text: String,
    tokenIds: [Int32],
    logprobs: [Float]?,
    finishReason: GenerationFinishReason,
    policyVersion: String,
    generationId: String,
    promptTokens: Int,
    queueTimeMs: Double,
    computeTimeMs: Double
  ) {
    self.text = text
    self.tokenIds = tokenIds
    self.logprobs = logprobs
    self.finishReason = finishReason
    self.policyVersion = policyVersion
    self.generationId = generationId
    self.promptTokens = promptTokens
    self.queueTimeMs = queueTimeMs
    self.computeTimeMs = computeTimeMs
  }
}

/// What a generation stream yields: deltas, then exactly one `.finished`.
public enum GenerationEvent: Sendable, Equatable {
  /// Text that can no longer change, and the tokens decoded since the previous delta.
  case delta(text: String, tokenIds: [Int32], logprobs: [Float]?)
  case finished(GenerationResult)
}

/// Runs generations. Cancelling the consuming task (or dropping the stream) must stop
/// generation at the next token.
public protocol PolicyBackend: Sendable {
  func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error>
}
