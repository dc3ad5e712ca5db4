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
  let preprocessor: CLIPPreprocessor
  let decoder: ImageDecoder
  let features: ImageCache<[Float]>
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
    var tokenizerConfiguration = SentencePieceTokenizer.Configuration()
    let tokenizerConfigPath = directory + "/tokenizer_config.json"
    if FileManager.default.fileExists(atPath: tokenizerConfigPath) {
      tokenizerConfiguration = try JSONDecoder().decode(
        SentencePieceTokenizer.Configuration.self,
        from: Data(contentsOf: URL(fileURLWithPath: tokenizerConfigPath))
      )
    }
    self.tokenizer = try SentencePieceTokenizer(
      modelPath: directory + "/tokenizer.model",
      configuration: tokenizerConfiguration
    )
    var preprocessorConfiguration = CLIPPreprocessor.Configuration(
      side: weights.config.vision.imageSize
    )
    let preprocessorPath = directory + "/preprocessor_config.json"
    if FileManager.default.fileExists(atPath: preprocessorPath) {
      preprocessorConfiguration = try JSONDecoder().decode(
        CLIPPreprocessor.Configuration.self,
        from: Data(contentsOf: URL(fileURLWithPath: preprocessorPath))
      )
    }
    self.preprocessor = CLIPPreprocessor(
      configuration: preprocessorConfiguration,
      padToSquare: settings.padToSquare
    )
    self.decoder = ImageDecoder(limits: settings.imageLimits)
    self.features = ImageCache(byteBudget: settings.imageCacheBytes)
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
    switch image {
    case .sha256(let hash):
      guard let key = ImageFeatureKey(hex: hash), let cached = features.value(for: key) else {
        throw BackendError(
          .notFound,
          "\(field).sha256 \(hash.prefix(64)) is not a known image (never sent, or evicted): send its bytes"
        )
      }
      return cached
    case .data(let bytes):
      let key = ImageFeatureKey(bytes: bytes)
      if let cached = features.value(for: key) { return cached }
      let decoded: RGBImage
      do { decoded = try decoder.decode(bytes) } catch {
        throw BackendError(.invalidArgument, "\(field).data: \(error.message)")
      }
      let pixels = preprocessor.pixelValues(for: decoded)
      let rows: [Float]
      do { rows = try model.imageEmbeddings(pixels: pixels.values) } catch {
        throw BackendError(.invalidArgument, "\(field): \(error)")
      }
      _ = features.insert(rows, for: key, cost: rows.count * MemoryLayout<Float>.stride)
      return rows
    }
  }

  static func modelError(_ error: ModelError) -> BackendError {
    switch error {
    case .contextOverflow, .imageTokenCountMismatch, .tokenOutOfRange, .emptyInput:
      BackendError(.invalidArgument, "\(error)")
    default: BackendError(.internalError, "model: \(error)")
    }
  }

  static func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
  }

  /// The byte offset of the earliest stop string in `text` (searching from `from`).
  static func firstMatch(of stops: [[UInt8]], in text: [UInt8], from: Int) -> Int? {
    var best: Int?
    for stop in stops where !stop.isEmpty && stop.count <= text.count {
      var i = max(0, from)
      while i + stop.count <= text.count {
        if text[i] == stop[0] && text[i..<(i + stop.count)].elementsEqual(stop) {
          if best == nil || i < best! { best = i }
          break
        }
        i += 1
      }
    }
    return best
  }

  /// How many trailing bytes of `text` (after `from`) could start a stop string, and so must
  /// not be streamed yet.
  static func heldBack(_ stops: [[UInt8]], text: [UInt8], from: Int) -> Int {
    var held = 0
    for stop in stops {
      var length = min(stop.count - 1, text.count - from)
      while length > held {
        if text[(text.count - length)...].elementsEqual(stop[0..<length]) {
          held = length
          break
        }
        length -= 1
      }
    }
    return held
  }
}

/// A `Sendable` wrapper for a value whose sharing is safe by construction (an `Atomic` here).
final class UnsafeSendableBox<Value: ~Copyable>: @unchecked Sendable {
  let value: Value
  init(_ value: consuming Value) { self.value = value }
}

/// One dedicated thread that runs submitted jobs in order.
final class ComputeThread: @unchecked Sendable {
  private let condition = NSCondition()
  private var jobs: [@Sendable () -> Void] = []
  private var thread: Thread?

  init(name: String) {
    let thread = Thread { [unowned self] in self.loop() }
    thread.name = name
    thread.stackSize = 16 << 20
    self.thread = thread
    thread.start()
  }

  func submit(_ job: @escaping @Sendable () -> Void) {
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  private func loop() {
    while true {
      condition.lock()
      while jobs.isEmpty { condition.wait() }
      let job = jobs.removeFirst()
      condition.unlock()
      job()
    }
  }
}

extension ModelRunner {
  /// The `Image.sha256` of image bytes.
  public static func imageKey(_ bytes: [UInt8]) -> String { ImageFeatureKey(bytes: bytes).hex }
}
