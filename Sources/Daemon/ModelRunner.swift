// The policy model behind rlhfd.v1.Policy: owns the loaded LLaVA model, its tokenizer, image
// preprocessor and an image-feature cache keyed by the SHA-256 of the image bytes, and runs
// every forward pass on one dedicated compute thread (never on the Swift cooperative pool).
// One request at a time: a small queue waits, more are refused (RESOURCE_EXHAUSTED). A request
// whose consumer goes away (client cancel, deadline) stops at the next token.
import Checkpoints
import Foundation
public import Imaging
public import Models
public import Services
import Synchronization
public import Tokenizer

/// Settings of the runner that are not in the checkpoint.
public struct ModelRunnerSettings: Sendable {
  /// Rendering of non-raw prompts.
  public var template = ChatTemplate.llava15
  /// Image size and byte limits, checked before decoding.
  public var imageLimits = ImageLimits()
  /// max_new_tokens when a request does not set it (capped by the context).
  public var defaultMaxNewTokens = 256
  /// Requests that may wait behind the running one before RESOURCE_EXHAUSTED.
  public var maxQueued = 8
  /// Bytes of projected image features kept for `Image.sha256` references.
  public var imageCacheBytes = 64 << 20
  /// The version id this model answers to (besides "").
  public var policyVersion = "base"
  /// LLaVA's pad-to-square preprocessing.
  public var padToSquare = false

  public init() {}
}

/// Runs Policy generations on one compute thread. See the file comment.
public final class ModelRunner: PolicyBackend, @unchecked Sendable {
  public let model: LlavaModel
  public let tokenizer: SentencePieceTokenizer
  public let settings: ModelRunnerSettings
  let images: ImageFeatures
  let eosTokenIds: Set<Int32>
  let imageTokenId: Int32
  private let thread: ComputeThread
  private let pending = Atomic<Int>(0)
  private let sampledTokens = Atomic<Int>(0)

  /// Tokens sampled since the runner was made (all requests, cancelled ones included).
  public var tokensSampled: Int { sampledTokens.load(ordering: .relaxed) }

  /// Loads `config.json`, the safetensors, `tokenizer.model` (+ `tokenizer_config.json`) and
  /// `preprocessor_config.json` from a llava-hf directory.
  public init(directory: String, settings: ModelRunnerSettings = .init()) throws {
    let weights = try LlavaWeights(directory: directory)
    guard weights.head == .languageModel else {
      throw ConfigurationError("\(directory) holds a reward model, not a policy")
    }
    self.model = LlavaModel(weights: weights)
    self.tokenizer = try ModelAssets.tokenizer(directory: directory)
    self.images = try ModelAssets.imageFeatures(
      directory: directory,
      side: weights.config.vision.imageSize,
      padToSquare: settings.padToSquare,
      limits: settings.imageLimits,
      cacheBytes: settings.imageCacheBytes
    )
    self.settings = settings
    var eos = Set<Int32>()
    if let id = tokenizer.eosID { eos.insert(id) }
    for id in weights.config.text.eosTokenIds { eos.insert(Int32(truncatingIfNeeded: id)) }
    self.eosTokenIds = eos
    self.imageTokenId = Int32(truncatingIfNeeded: weights.config.imageTokenIndex)
    self.thread = ComputeThread(name: "rlhfd-compute")
  }

  /// Positions the model can attend over (prompt + generated tokens).
  public var contextLength: Int { model.weights.config.text.maxPositionEmbeddings }

  public func generate(
    _ request: GenerationRequest
  ) -> AsyncThrowingStream<GenerationEvent, any Error> {
    let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
    let flag = UnsafeSendableBox(Atomic<Bool>(false))
    continuation.onTermination = { termination in
      if case .cancelled = termination { flag.value.store(true, ordering: .relaxed) }
    }
    let queued = pending.add(1, ordering: .relaxed).newValue
    if queued > settings.maxQueued + 1 {
      pending.subtract(1, ordering: .relaxed)
      continuation.finish(
        throwing: BackendError(
          .resourceExhausted,
          "the policy is busy: \(queued - 1) requests are running or waiting (at most \(settings.maxQueued) may wait)"
        )
      )
      return stream
    }
    let submitted = ContinuousClock.now
    thread.submit { [self] in
      var failure: (any Error)?
      do {
        try self.run(
          request,
          submitted: submitted,
          isCancelled: { flag.value.load(ordering: .relaxed) },
          emit: { event in _ = continuation.yield(event) }
        )
      } catch {
        failure = error
      }
      // Free the slot before the consumer sees the end, so its next request is admitted.
      self.pending.subtract(1, ordering: .relaxed)
      continuation.finish(throwing: failure)
    }
    return stream
  }

  /// The generation itself, on the compute thread.
  func run(
    _ request: GenerationRequest,
    submitted: ContinuousClock.Instant,
    isCancelled: () -> Bool,
    emit: (GenerationEvent) -> Void
  ) throws {
    let started = ContinuousClock.now
    let queueMs = Self.milliseconds(started - submitted)
    if isCancelled() { throw CancellationError() }
    if !request.policyVersion.isEmpty && request.policyVersion != settings.policyVersion {
      throw BackendError(
        .notFound,
        "policy_version '\(request.policyVersion.prefix(80))' is unknown; this daemon serves '\(settings.policyVersion)'"
      )
    }
    // Images first: they may be unknown hashes or bad bytes.
    var embeddings: [Float] = []
    for (index, image) in request.images.enumerated() {
      embeddings += try imageEmbeddings(image, field: "images[\(index)]")
    }
    let prompt = try promptTokens(request)
    let sampling = request.sampling
    let room = contextLength - prompt.count
    if room < 1 {
      throw BackendError(
        .invalidArgument,
        "the prompt is \(prompt.count) tokens (with image tokens); the context holds \(contextLength), leaving no room to generate"
      )
    }
    let maxNewTokens: Int
    if let asked = sampling.maxNewTokens {
      if asked > room {
        throw BackendError(
          .invalidArgument,
          "sampling.max_new_tokens \(asked) does not fit: the prompt is \(prompt.count) tokens and the context holds \(contextLength), so at most \(room) can be generated"
        )
      }
      maxNewTokens = asked
    } else {
      maxNewTokens = min(settings.defaultMaxNewTokens, room)
    }
    var parameters = SamplingParameters(
      temperature: sampling.temperature,
      topK: sampling.topK,
      topP: sampling.topP,
      repetitionPenalty: sampling.repetitionPenalty,
      seed: sampling.seed ?? UInt64.random(in: .min ... .max)
    )
    if sampling.temperature == 0 { parameters.temperature = 0 }

    var cache = model.language.makeCache(capacity: prompt.count + maxNewTokens)
    var logits: [Float]
    do {
      logits = try model.prefill(
        tokens: prompt,
        imageEmbeddings: embeddings.isEmpty ? nil : embeddings,
        cache: &cache
      )
    } catch {
      throw Self.modelError(error)
    }
    var sampler = Sampler(parameters)
    var history = prompt
    var tokens: [Int32] = []
    var logprobs: [Float] = []
    var text: [UInt8] = []
    var emitted = 0
    var detokenizer = tokenizer.makeIncrementalDecoder()
    var pendingTokens: [Int32] = []
    var pendingLogprobs: [Float] = []
    var finish = GenerationFinishReason.length
    let stops = sampling.stop.map { Array($0.utf8) }
    var cut: Int?

    func flush(upTo end: Int) {
      let delta = end > emitted ? String(decoding: text[emitted..<end], as: UTF8.self) : ""
      if !delta.isEmpty || !pendingTokens.isEmpty {
        emit(
          .delta(
            text: delta,
            tokenIds: pendingTokens,
            logprobs: sampling.logprobs ? pendingLogprobs : nil
          )
        )
      }
      emitted = max(emitted, end)
      pendingTokens.removeAll()
      pendingLogprobs.removeAll()
    }

    while tokens.count < maxNewTokens {
      if isCancelled() { throw CancellationError() }
      let next = sampler.sample(logits: logits, history: history)
      sampledTokens.add(1, ordering: .relaxed)
      tokens.append(next.token)
      logprobs.append(next.logprob)
      history.append(next.token)
      pendingTokens.append(next.token)
      pendingLogprobs.append(next.logprob)
      if eosTokenIds.contains(next.token) {
        finish = .eos
        break
      }
      text += Array(detokenizer.push(next.token).utf8)
      if let at = Self.firstMatch(of: stops, in: text, from: max(0, emitted - 256)) {
        cut = at
        finish = .stop
        break
      }
      flush(upTo: text.count - Self.heldBack(stops, text: text, from: emitted))
      if tokens.count == maxNewTokens { break }
      do {
        logits = try model.decode(token: next.token, cache: &cache)
      } catch {
        throw Self.modelError(error)
      }
    }
    if cut == nil {
      text += Array(detokenizer.finish().utf8)
      if finish != .stop, let at = Self.firstMatch(of: stops, in: text, from: 0) {
        cut = at
        finish = .stop
      }
    }
    let end = cut ?? text.count
    flush(upTo: end)
    let computeMs = Self.milliseconds(ContinuousClock.now - started)
    emit(
      .finished(
        GenerationResult(
          text: String(decoding: text[0..<end], as: UTF8.self),
          tokenIds: tokens,
          logprobs: sampling.logprobs ? logprobs : nil,
          finishReason: finish,
          policyVersion: settings.policyVersion,
          generationId: UUID().uuidString.lowercased(),
          promptTokens: prompt.count,
          queueTimeMs: queueMs,
          computeTimeMs: computeMs
        )
      )
    )
  }

  /// The rendered, tokenized prompt with each `<image>` expanded to the image's feature rows.
  func promptTokens(_ request: GenerationRequest) throws -> [Int32] {
    let rendered: ChatTemplate.Prompt =
      request.rawPrompt
      ? .raw(request.prompt) : .chat(request.prompt, imageCount: request.images.count)
    let ids: [Int32]
    do { ids = try settings.template.encode(rendered, with: tokenizer) } catch {
      throw BackendError(.invalidArgument, "the prompt cannot be tokenized: \(error)")
    }
    let imageTokens = ids.count { $0 == imageTokenId }
    if imageTokens != request.images.count {
      throw BackendError(
        .invalidArgument,
        "the prompt has \(imageTokens) \(settings.template.imageToken) tokens but \(request.images.count) images were given"
      )
    }
    let rows = model.weights.config.imageFeatureCount
    var expanded: [Int32] = []
    expanded.reserveCapacity(ids.count + imageTokens * rows)
    for id in ids {
      if id == imageTokenId {
        expanded += repeatElement(id, count: rows)
      } else {
        expanded.append(id)
      }
    }
    return expanded
  }

  /// Projected features of one image, from the cache or by decoding and encoding it.
  func imageEmbeddings(_ image: GenerationImage, field: String) throws -> [Float] {
    try images.embeddings(image, field: field) { pixels throws(ModelError) in
      try model.imageEmbeddings(pixels: pixels)
    }
  }

}
