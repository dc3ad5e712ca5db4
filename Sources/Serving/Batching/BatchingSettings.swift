// The continuous-batching settings of one model (the `batching:` section of the configuration)
// and how they become a scheduler configuration: the KV cache budget in bytes turns into a
// number of blocks for the model's layer and head shapes.
import Checkpoints
import Engine
import Models
import Scheduler

/// Continuous batching of one model. Field names are the YAML keys.
public struct BatchingSettings: Codable, Sendable, Equatable {
  /// Bytes of KV cache (keys and values, fp32) per model; allocated at start-up, capped at what
  /// `max_batch_size` sequences of full context length can use.
  public var kvCacheBytes = 1 << 30
  /// Positions per KV block: the unit of allocation and of prefix sharing.
  public var kvBlockSize = 32
  /// Sequences decoded together in one step at most.
  public var maxBatchSize = 64
  /// Positions computed per step (one per decoding sequence, the rest prompt chunks).
  public var stepTokenBudget = 512
  /// Requests that may wait for a place in the batch; beyond them RESOURCE_EXHAUSTED.
  public var maxWaitingRequests = 64
  /// Prompt plus max_new_tokens of all waiting sequences; beyond it RESOURCE_EXHAUSTED.
  public var maxWaitingTokens = 1 << 20
  /// Reuse the KV blocks of equal prefixes (image + prompt) across sequences and requests.
  public var prefixCaching = true
  /// A stream not read for this long ends with RESOURCE_EXHAUSTED, freeing its slot; 0 = never.
  /// (A stream paused for a second while others wait gives up its slot before that.)
  public var stallTimeoutSeconds = 30.0
  /// Threads that tokenize prompts and decode images for this model (off the threads that
  /// serve calls); requests beyond `max_waiting_requests` waiting for them are refused.
  public var preprocessThreads = 1

  public init() {}

  public enum CodingKeys: String, CodingKey, CaseIterable {
    case kvCacheBytes = "kv_cache_bytes"
    case kvBlockSize = "kv_block_size"
    case maxBatchSize = "max_batch_size"
    case stepTokenBudget = "step_token_budget"
    case maxWaitingRequests = "max_waiting_requests"
    case maxWaitingTokens = "max_waiting_tokens"
    case prefixCaching = "prefix_caching"
    case stallTimeoutSeconds = "stall_timeout_seconds"
    case preprocessThreads = "preprocess_threads"
  }

  public init(from decoder: any Decoder) throws {
    let d = BatchingSettings()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    kvCacheBytes = try c.decodeIfPresent(Int.self, forKey: .kvCacheBytes) ?? d.kvCacheBytes
    kvBlockSize = try c.decodeIfPresent(Int.self, forKey: .kvBlockSize) ?? d.kvBlockSize
    maxBatchSize = try c.decodeIfPresent(Int.self, forKey: .maxBatchSize) ?? d.maxBatchSize
    stepTokenBudget =
      try c.decodeIfPresent(Int.self, forKey: .stepTokenBudget) ?? d.stepTokenBudget
    maxWaitingRequests =
      try c.decodeIfPresent(Int.self, forKey: .maxWaitingRequests) ?? d.maxWaitingRequests
    maxWaitingTokens =
      try c.decodeIfPresent(Int.self, forKey: .maxWaitingTokens) ?? d.maxWaitingTokens
    prefixCaching = try c.decodeIfPresent(Bool.self, forKey: .prefixCaching) ?? d.prefixCaching
    stallTimeoutSeconds =
      try c.decodeIfPresent(Double.self, forKey: .stallTimeoutSeconds) ?? d.stallTimeoutSeconds
    preprocessThreads =
      try c.decodeIfPresent(Int.self, forKey: .preprocessThreads) ?? d.preprocessThreads
  }

  /// Checks values that decode but make no sense.
  public func validate() throws(ConfigurationError) {
    if !(1...4096).contains(kvBlockSize) {
      throw ConfigurationError("'batching.kv_block_size' must be between 1 and 4096")
    }
    if !(1...4096).contains(maxBatchSize) {
      throw ConfigurationError("'batching.max_batch_size' must be between 1 and 4096")
    }
    if stepTokenBudget < maxBatchSize {
      throw ConfigurationError(
        "'batching.step_token_budget' (\(stepTokenBudget)) must be at least 'batching.max_batch_size' (\(maxBatchSize)) so every running sequence can decode each step"
      )
    }
    if !(stallTimeoutSeconds.isFinite && stallTimeoutSeconds >= 0) {
      throw ConfigurationError("'batching.stall_timeout_seconds' must be a number >= 0 (0 = never)")
    }
    if !(1...64).contains(preprocessThreads) {
      throw ConfigurationError("'batching.preprocess_threads' must be between 1 and 64")
    }
    if maxWaitingRequests < 0 || maxWaitingTokens < 0 || kvCacheBytes < 1 {
      throw ConfigurationError(
        "'batching.kv_cache_bytes' must be positive and the 'batching.max_waiting_*' limits must not be negative"
      )
    }
  }

  /// The scheduler configuration for `model`: as many blocks as the budget holds, at most what
  /// a full batch of full-context sequences needs, and at least one full-context sequence.
  func scheduler(
    for model: LanguageModel,
    name: String,
    what: String
  ) throws(ConfigurationError) -> SchedulerConfiguration {
    try validate()
    let context = model.weights.config.text.maxPositionEmbeddings
    let perSequence = (context + kvBlockSize - 1) / kvBlockSize
    let blockBytes = kvBlockSize * model.kvBytesPerPosition
    let affordable = kvCacheBytes / blockBytes
    if affordable < perSequence {
      throw ConfigurationError(
        "'batching.kv_cache_bytes' \(kvCacheBytes) is too small for \(what): one sequence of its full context (\(context) positions) needs \(perSequence * blockBytes) bytes"
      )
    }
    var configuration = SchedulerConfiguration(
      blockCount: min(affordable, perSequence * maxBatchSize),
      maxSequenceLength: context
    )
    configuration.blockSize = kvBlockSize
    configuration.maxRunning = maxBatchSize
    configuration.stepTokenBudget = stepTokenBudget
    configuration.maxWaitingRequests = maxWaitingRequests
    configuration.maxWaitingTokens = maxWaitingTokens
    configuration.name = name
    configuration.prefixSharing = prefixCaching
    configuration.stallTimeout = stallTimeoutSeconds > 0 ? .seconds(stallTimeoutSeconds) : nil
    configuration.parkAfter = min(.seconds(1), configuration.stallTimeout ?? .seconds(1))
    return configuration
  }

  /// The pool that prepares this model's requests (`preprocess_threads`, queue bounded by
  /// `max_waiting_requests`).
  func preprocessPool() -> WorkerPool {
    // Five nice levels below the engine's step thread (which frees the slots) and, with it,
    // below the threads that serve calls (ComputePriority).
    WorkerPool(threads: preprocessThreads, maxQueued: max(1, maxWaitingRequests), niceness: 0) {
      ComputePriority.lowerCurrentThread(name: "preprocess", extra: 5)
    }
  }

  /// Sizes the KV cache of `model`, makes the executor over it and starts the scheduler thread.
  func start<Executor: StepExecutor>(
    for model: LanguageModel,
    name: String,
    what: String,
    executor make: (PagedKVCache) -> Executor
  ) throws(ConfigurationError) -> (Executor, Scheduler) {
    let configuration = try scheduler(for: model, name: name, what: what)
    let executor = make(
      model.makePagedCache(blocks: configuration.blockCount, blockSize: configuration.blockSize)
    )
    // The step thread computes: it runs below the threads that serve calls (ComputePriority).
    let scheduler = Scheduler(configuration: configuration, executor: executor) {
      ComputePriority.lowerCurrentThread(name: "\(name)-step")
    }
    scheduler.start()
    return (executor, scheduler)
  }
}
