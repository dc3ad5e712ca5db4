// What a client hears when its request does not make it through the batch: the scheduler let
// go of its sequence early, refused it, or the request was refused before it got there.
import Scheduler
import ServingTypes
import Tokenizer

/// What a client hears when the scheduler lets go of its sequence early.
enum BatchErrors {
  static func error(for reason: EndReason, what: String) -> (any Error)? {
    switch reason {
    case .finished: nil
    case .cancelled: CancellationError()
    case .expired:
      BackendError(.deadlineExceeded, "the deadline passed before the \(what) finished")
    case .shutdown: BackendError(.unavailable, "the daemon is shutting down; retry elsewhere")
    case .lengthLimit:
      BackendError(.invalidArgument, "the \(what) reached the model's context length")
    case .outOfMemory:
      BackendError(
        .resourceExhausted,
        "the KV cache cannot hold this \(what) even alone: raise batching.kv_cache_bytes"
      )
    case .stalled:
      BackendError(
        .resourceExhausted,
        "the stream was not read for batching.stall_timeout_seconds; the \(what) was stopped to free its batch slot"
      )
    }
  }

  /// Queues `job` on a preprocessing pool, mapping a refusal to the client's status.
  static func submit(
    _ job: @escaping @Sendable () -> Void,
    to pool: WorkerPool
  ) throws(BackendError) {
    do { try pool.submit(job) } catch { throw refusal(error) }
  }

  /// Runs `work` on a preprocessing pool, mapping a refusal to the client's status.
  static func run<T: Sendable>(
    on pool: WorkerPool,
    _ work: @escaping @Sendable () throws -> T
  ) async throws -> T {
    do { return try await pool.run(work) } catch let error as WorkerPoolError {
      throw refusal(error)
    }
  }

  static func refusal(_ error: WorkerPoolError) -> BackendError {
    switch error {
    case .full: BackendError(.resourceExhausted, "\(error); retry later")
    case .stopped: BackendError(.unavailable, "\(error); retry elsewhere")
    }
  }

  /// Refuses, before tokenizing, a text of `bytes` UTF-8 bytes that cannot fit in `tokens`.
  static func checkTextBytes(
    _ bytes: Int,
    field: String,
    tokens: Int,
    _ tokenizer: SentencePieceTokenizer
  ) throws(BackendError) {
    let limit = tokenizer.maxTextBytes(forTokens: tokens)
    guard bytes > limit else { return }
    throw BackendError(
      .invalidArgument,
      "\(field) is \(bytes) bytes: more than the \(limit) bytes that can fit the model's context of \(tokens) tokens, so it was not tokenized"
    )
  }

  static func admission(_ error: AdmissionError) -> BackendError {
    switch error.code {
    case .queueFull: BackendError(.resourceExhausted, error.message)
    case .tooLong: BackendError(.invalidArgument, error.message)
    case .shuttingDown: BackendError(.unavailable, error.message)
    case .emptyPrompt: BackendError(.invalidArgument, error.message)
    case .duplicateID: BackendError(.internalError, error.message)
    }
  }
}
