// The policy model behind rlhfd.v1.Policy: owns the loaded LLaVA model, its tokenizer, image
// preprocessor and an image-feature cache keyed by the SHA-256 of the image bytes. Requests are
// checked and rendered on the caller's task, then join the continuous batch: a scheduler thread
// runs every forward pass (never on the Swift cooperative pool) over a paged KV cache, one
// batched step for all running sequences. A request whose consumer goes away (client cancel,
// deadline) leaves the batch at the next step. Tokenizing and image decoding run on the
// runner's preprocessing threads (`WorkerPool`), never on the threads that serve calls; a prompt
// too long for the context by its byte count alone is refused before any of that.
import Checkpoints
public import Engine
import Foundation
public import Imaging
public import Models
public import Scheduler
public import ServingTypes
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
  /// Continuous batching: KV cache budget, batch size, step budget, admission limits.
  public var batching = BatchingSettings()
  /// Bytes of projected image features kept for `Image.sha256` references.
  public var imageCacheBytes = 64 << 20
  /// The id of the base model alone among the policy versions (`PolicyVersions`).
  public var policyVersion = PolicyVersionInfo.baseID
  /// Where changes of the policy versions are made durable (nil: kept in memory only).
  public var versionJournal: (any PolicyVersionJournal)?
  /// LLaVA's pad-to-square preprocessing.
  public var padToSquare = false
  /// Products with bf16 weights: exact fp32 or bf16-rounded activations (`MatmulPrecision`).
  public var precision = MatmulPrecision.fp32
  /// Where finished generations are recorded (nil: nowhere; generation ids are then unknown
  /// to feedback).
  public var recorder: (any GenerationRecorder)?

  public init() {}
}

/// Runs Policy generations in a continuous batch. See the file comment.
public final class ModelRunner: PolicyBackend, @unchecked Sendable {
  public let model: LlavaModel
  public let settings: ModelRunnerSettings
  let batch: BatchedModel<PolicyExecutor>
  let generationContext: GenerationContext
  /// The policy versions served (the base model alone until adapters are registered).
  public let versions: PolicyVersions
  private let sampledTokens = UnsafeSendableBox(Atomic<Int>(0))

  public var tokenizer: SentencePieceTokenizer { batch.tokenizer }
  var features: ImageFeatures { batch.features }
  var imageTokenId: Int32 { batch.imageTokenId }

  /// Tokens sampled since the runner was made (all requests, cancelled ones included).
  public var tokensSampled: Int { sampledTokens.value.load(ordering: .relaxed) }

  /// The scheduler's counters (waiting, running, KV blocks) for tests and metrics.
  public var batchSnapshot: SchedulerSnapshot { batch.scheduler.snapshot }

  /// Interactive work in this runner now (`RunnerLoad`), for the trainer's background lane.
  public var load: RunnerLoad { batch.load }

  /// Interactive requests preparing, waiting or running (`RunnerLoad.interactiveDemand`).
  public var interactiveDemand: Int { batch.load.interactiveDemand }

  /// Loads `config.json`, the safetensors, `tokenizer.model` (+ `tokenizer_config.json`) and
  /// `preprocessor_config.json` from a llava-hf directory, sizes the KV cache and starts the
  /// scheduler thread.
  public init(directory: String, settings: ModelRunnerSettings = .init()) throws {
    let weights = try LlavaWeights(directory: directory, precision: settings.precision)
    guard weights.head == .languageModel else {
      throw ConfigurationError("\(directory) holds a reward model, not a policy")
    }
    let model = LlavaModel(weights: weights)
    self.model = model
    self.settings = settings
    batch = try BatchedModel(
      directory: directory,
      weights: weights,
      language: model.language,
      name: "policy",
      what: "policy_model",
      imageToken: settings.template.imageToken,
      images: ImageSettings(
        padToSquare: settings.padToSquare,
        limits: settings.imageLimits,
        cacheBytes: settings.imageCacheBytes
      ),
      batching: settings.batching,
      executor: { cache, features in
        PolicyExecutor(model: model, cache: cache, features: features)
      }
    )
    self.versions = PolicyVersions(
      base: Self.baseVersion(settings),
      journal: settings.versionJournal
    )
    var eos = Set<Int32>()
    if let id = batch.tokenizer.eosID { eos.insert(id) }
    for id in weights.config.text.eosTokenIds { eos.insert(Int32(truncatingIfNeeded: id)) }
    self.generationContext = GenerationContext(
      tokenizer: batch.tokenizer,
      eosTokenIds: eos,
      policyVersion: settings.policyVersion,
      salt: SequenceKeys.salt("policy:" + settings.policyVersion)
    )
  }

  /// Positions the model can attend over (prompt + generated tokens).
  public var contextLength: Int { model.weights.config.text.maxPositionEmbeddings }

  public func generate(
    _ request: GenerationRequest
  ) -> AsyncThrowingStream<GenerationEvent, any Error> {
    let id = batch.nextSequenceID()
    let scheduler = batch.scheduler
    let (output, stream) = GenerationOutput.make(
      onCancel: { scheduler.cancel(id) },
      onCaughtUp: { scheduler.wake() }
    )
    let mark = batch.preparing.mark(request.priority)
    do {
      // The version is fixed now: a promotion while the request waits does not move it.
      let version = try versions.acquire(request.policyVersion)
      try BatchErrors.checkTextBytes(
        request.prompt.utf8.count,
        field: "the prompt",
        tokens: contextLength,
        tokenizer
      )
      try BatchErrors.submit(
        { [self] in
          guard !output.isTerminated else { return version.release() }  // the client left
          do { try prepare(id: id, request, version: version, output: output, mark: mark) } catch {
            version.release()  // never admitted
            output.finish(throwing: error)
          }
        },
        to: batch.preprocess
      )
    } catch {
      output.finish(throwing: error)
    }
    return stream
  }

  /// On a preprocessing thread: renders the request into a sequence and admits it, through the
  /// encoder thread when it brings a new image.
  private func prepare(
    id: SequenceID,
    _ request: GenerationRequest,
    version: PolicyVersionLease,
    output: GenerationOutput,
    mark: PreparingMark
  ) throws {
    let sequence = try makeSequence(id: id, request, version: version, output: output)
    guard sequence.images.contains(where: { $0.embeddings == nil }) else {
      return try admit(sequence, request, mark: mark)
    }
    batch.encodeImages(
      of: [sequence],
      unless: {
        guard output.isTerminated else { return false }
        version.release()  // the client left
        return true
      },
      then: { [self] encoded in
        do {
          try encoded.get()
          try admit(sequence, request, mark: mark)
        } catch {
          version.release()  // never admitted
          output.finish(throwing: error)
        }
      }
    )
  }

  /// Registers the sequence with the executor and submits it to the scheduler.
  private func admit(
    _ sequence: GenerationSequence,
    _ request: GenerationRequest,
    mark: PreparingMark
  ) throws {
    defer { mark.done() }
    try batch.admit(
      [sequence],
      maxNewTokens: \.maxNewTokens,
      priority: request.priority,
      deadline: request.deadline
    )
  }

  /// Checks and renders a request into a sequence (on the caller's task, not the scheduler's).
  func makeSequence(
    id: SequenceID,
    _ request: GenerationRequest,
    version: PolicyVersionLease,
    output: GenerationOutput
  ) throws -> GenerationSequence {
    let context = generationContext.pinned(to: version)
    // Images first: they may be unknown hashes or bad bytes.
    let images = try request.images.enumerated().map { index, image in
      try features.prepare(image, field: "images[\(index)]")
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
    try batch.vocabulary.check(prompt, field: "the prompt")
    var parameters = SamplingParameters(
      temperature: sampling.temperature,
      topK: sampling.topK,
      topP: sampling.topP,
      repetitionPenalty: sampling.repetitionPenalty,
      seed: sampling.seed ?? UInt64.random(in: .min ... .max)
    )
    if sampling.temperature == 0 { parameters.temperature = 0 }
    return GenerationSequence(
      id: id,
      prompt: prompt,
      promptKeys: SequenceKeys.keys(
        tokens: prompt,
        imageTokenId: imageTokenId,
        images: images.map(\.key),
        rowsPerImage: model.weights.config.imageFeatureCount,
        salt: context.salt
      ),
      images: images,
      imageTokenId: imageTokenId,
      sampling: sampling,
      parameters: parameters,
      maxNewTokens: maxNewTokens,
      context: context,
      output: output,
      onSample: { [sampledTokens] in sampledTokens.value.add(1, ordering: .relaxed) },
      onFinished: { [recorder = settings.recorder, seed = parameters.seed] result, logprobs in
        recorder?.record(
          FinishedGeneration(
            request: request,
            imageHashes: images.map(\.key.hex),
            seed: seed,
            maxNewTokens: maxNewTokens,
            result: result,
            logprobs: logprobs
          )
        )
      }
    )
  }
}
