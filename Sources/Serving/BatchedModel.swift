// What the policy and reward runners set up and run alike, for one loaded model: its tokenizer
// (checked against the config: ModelVocabulary), image preprocessor and feature cache, the
// preprocessing threads, the image-encoder thread, the paged KV cache with the executor over it
// and the scheduler thread; then the two things both runners do with them: encode a request's
// new images on the encoder thread, and register sequences with the executor and admit them.
import Checkpoints
import Imaging
import Models
import Scheduler
import ServingTypes
import Synchronization
import Tokenizer

/// An executor whose sequences RPC tasks register before submitting them to the scheduler.
protocol RegisteringExecutor: StepExecutor, Sendable {
  associatedtype Sequence: BatchSequence & Sendable
  var registry: SequenceRegistry<Sequence> { get }
  var features: ImageFeatures { get }
  /// The model's image features for preprocessed pixels (CLIP tower and projector). Reads only
  /// immutable weights: the encoder thread calls it too.
  func encodeImage(_ pixels: [Float]) throws(ModelError) -> [Float]
}

extension RegisteringExecutor {
  /// The start of every step, shared by the executors: the plan's registered sequences and
  /// `BatchInputs.run` over them with `forward`; nil when no forward ran (every outcome is then
  /// `.finish`).
  func forward(
    _ plan: StepPlan,
    _ forward: ([DecoderBatchEntry]) throws(ModelError) -> [Float]
  ) -> (sequences: [Sequence?], included: [Bool], rows: [Float])? {
    let found = registry.sequences(of: plan)
    guard
      let (included, rows) = BatchInputs.run(
        plan,
        sequences: found,
        features: features,
        encode: { pixels throws(ModelError) in try encodeImage(pixels) },
        forward: forward
      )
    else { return nil }
    return (found, included, rows)
  }
}

/// How a model's images are read (the runner settings' image fields).
struct ImageSettings {
  var padToSquare: Bool
  var limits: ImageLimits
  var cacheBytes: Int
}

/// One model in its own continuous batch. See the file comment.
final class BatchedModel<Executor: RegisteringExecutor>: Sendable {
  let tokenizer: SentencePieceTokenizer
  let features: ImageFeatures
  let vocabulary: ModelVocabulary
  let executor: Executor
  let scheduler: Scheduler
  let encoder = ImageEncoder()
  let preprocess: WorkerPool
  /// Interactive requests accepted and not yet submitted to the scheduler.
  let preparing = PreparingCount()
  private let nextID = Atomic<UInt64>(0)

  /// Loads the tokenizer and image preprocessor of `directory`, checks the tokenizer against
  /// `weights`' config, sizes the KV cache of `language`, makes the executor over it and starts
  /// the scheduler thread (`name` for its thread and metrics, `what` for messages).
  init(
    directory: String,
    weights: LlavaWeights,
    language: LanguageModel,
    name: String,
    what: String,
    imageToken: String,
    images: ImageSettings,
    batching: BatchingSettings,
    executor make: (PagedKVCache, ImageFeatures) -> Executor
  ) throws {
    tokenizer = try ModelAssets.tokenizer(directory: directory)
    // "policy_model" -> "policy model": the messages' name of the model.
    let model = what.split(separator: "_").joined(separator: " ")
    vocabulary = ModelVocabulary(weights.config, model: model)
    try vocabulary.check(tokenizer, imageToken: imageToken, directory: directory)
    let features = try ModelAssets.imageFeatures(
      directory: directory,
      side: weights.config.vision.imageSize,
      padToSquare: images.padToSquare,
      limits: images.limits,
      cacheBytes: images.cacheBytes
    )
    self.features = features
    (executor, scheduler) = try batching.start(for: language, name: name, what: what) { cache in
      make(cache, features)
    }
    // Last: a refused configuration above leaves no threads behind.
    preprocess = batching.preprocessPool()
  }

  deinit {
    preprocess.shutdown()
    scheduler.shutdown()
  }

  /// The load signal (`RunnerLoad`).
  var load: RunnerLoad { RunnerLoad(preparing: preparing.value, scheduler.snapshot) }

  /// A fresh sequence id.
  func nextSequenceID() -> SequenceID { SequenceID(nextID.add(1, ordering: .relaxed).newValue) }

  /// The image placeholder of the prompts.
  var imageTokenId: Int32 { vocabulary.imageTokenId }

  /// Encodes the images of `sequences` that the cache did not hold, on the encoder thread (never
  /// inside a batch step), then calls `then` there; skipped when `abandoned` says so by then.
  func encodeImages<S: BatchSequence & Sendable>(
    of sequences: [S],
    unless abandoned: @escaping @Sendable () -> Bool = { false },
    then: @escaping @Sendable (Result<Void, any Error>) -> Void
  ) {
    let (features, executor) = (self.features, self.executor)
    encoder.run {
      guard !abandoned() else { return }
      then(
        Result {
          try ImageEncoder.encode(sequences, features: features) { pixels throws(ModelError) in
            try executor.encodeImage(pixels)
          }
        }
      )
    }
  }

  /// `encodeImages` for an async caller.
  func encodeImages<S: BatchSequence & Sendable>(of sequences: [S]) async throws {
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
      encodeImages(of: sequences) { done.resume(with: $0) }
    }
  }

  /// Registers `sequences` with the executor and submits them to the scheduler; a refusal
  /// unregisters them and becomes the client's status.
  func admit(
    _ sequences: [Executor.Sequence],
    maxNewTokens: (Executor.Sequence) -> Int,
    priority: RequestPriority,
    deadline: ContinuousClock.Instant?
  ) throws(BackendError) {
    executor.registry.add(sequences)
    do {
      try scheduler.submit(
        sequences.map {
          SequenceRequest(
            id: $0.id,
            promptKeys: $0.promptKeys,
            maxNewTokens: maxNewTokens($0),
            priority: priority == .batch ? .batch : .interactive,
            deadline: deadline
          )
        }
      )
    } catch {
      for sequence in sequences { executor.registry.remove(sequence.id) }
      throw BatchErrors.admission(error)
    }
  }
}
