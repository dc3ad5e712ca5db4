// The reward model's side of continuous batching. A Score request is one group of sequences,
// one per candidate, all starting with the same image and prompt: the scheduler computes that
// shared prefix once and each candidate's own tail in packed batched passes. A candidate is
// done when its last position has run: the reward head reads its final hidden state. Each
// candidate runs with its reward-model version's LoRA (the entry's adapter, as for policy
// versions) and head (`RewardModel.score(lastHidden:head:)`; nil = the checkpoint's).
import Checkpoints
import Foundation
import Models
import Scheduler
import ServingTypes
import Synchronization

/// The scores of one Score request, filled in as its candidates finish (scheduler thread), and
/// awaited by the RPC task.
final class RewardGroup: Sendable {
  private struct State {
    var scores: [Float?]
    var done: [Bool]
    var continuation: CheckedContinuation<[Float], any Error>?
    var result: Result<[Float], any Error>?
    var started: ContinuousClock.Instant?
  }
  private let state: Mutex<State>

  init(count: Int) {
    state = Mutex(
      State(
        scores: Array(repeating: nil, count: count),
        done: Array(repeating: false, count: count)
      )
    )
  }

  /// When the first candidate's first step ran.
  var started: ContinuousClock.Instant? { state.withLock { $0.started } }

  func markStarted() {
    state.withLock { state in if state.started == nil { state.started = .now } }
  }

  /// Waits for every candidate's score (or the first failure).
  func wait() async throws -> [Float] {
    try await withCheckedThrowingContinuation { continuation in
      let ready = state.withLock { state -> Result<[Float], any Error>? in
        if let result = state.result { return result }
        state.continuation = continuation
        return nil
      }
      if let ready { continuation.resume(with: ready) }
    }
  }

  /// Candidate `index`'s score, computed (on the scheduler thread, inside the step).
  func record(_ score: Float, at index: Int) {
    state.withLock { $0.scores[index] = score }
  }

  /// Candidate `index` has left the batch; the request answers once all have, so a client that
  /// sends its next request at once finds the batch slots free.
  func left(_ index: Int) {
    resolve { state in
      state.done[index] = true
      guard state.done.allSatisfy({ $0 }) else { return nil }
      let scores = state.scores.compactMap { $0 }
      guard scores.count == state.scores.count else {
        return .failure(BackendError(.internalError, "a candidate left the batch without a score"))
      }
      return .success(scores)
    }
  }

  func fail(_ error: any Error) { resolve { _ in .failure(error) } }

  private func resolve(_ update: (inout State) -> Result<[Float], any Error>?) {
    let resume = state.withLock {
      state -> (CheckedContinuation<[Float], any Error>, Result<[Float], any Error>)? in
      guard state.result == nil, let result = update(&state) else { return nil }
      state.result = result
      defer { state.continuation = nil }
      return state.continuation.map { ($0, result) }
    }
    if let (continuation, result) = resume { continuation.resume(with: result) }
  }
}

/// One candidate of a Score request.
final class RewardSequence: BatchSequence, @unchecked Sendable {
  let id: SequenceID
  let tokens: [Int32]
  let promptKeys: [UInt64]
  let images: [PreparedImage]
  let imageTokenId: Int32
  let group: RewardGroup
  let index: Int
  /// The reward-model version the request runs on (kept alive while the sequence is).
  let version: RewardModelVersion
  var imageEmbeddings: [Float]?
  var promptCount: Int { tokens.count }
  var adapter: (any PolicyAdapter)? { version.handle }

  init(
    id: SequenceID,
    tokens: [Int32],
    promptKeys: [UInt64],
    images: [PreparedImage],
    imageTokenId: Int32,
    group: RewardGroup,
    index: Int,
    version: RewardModelVersion
  ) {
    self.id = id
    self.tokens = tokens
    self.promptKeys = promptKeys
    self.images = images
    self.imageTokenId = imageTokenId
    self.group = group
    self.index = index
    self.version = version
  }

  func markStarted() { group.markStarted() }

  func fail(_ error: any Error) { group.fail(error) }
}

/// Runs scheduler steps on the reward model.
final class RewardExecutor: RegisteringExecutor, @unchecked Sendable {
  let model: RewardModel
  let cache: PagedKVCache
  let features: ImageFeatures
  let registry = SequenceRegistry<RewardSequence>()

  init(model: RewardModel, cache: PagedKVCache, features: ImageFeatures) {
    self.model = model
    self.cache = cache
    self.features = features
  }

  func encodeImage(_ pixels: [Float]) throws(ModelError) -> [Float] {
    try model.imageEmbeddings(pixels: pixels)
  }

  func execute(_ plan: StepPlan) -> [StepOutcome] {
    var outcomes = [StepOutcome](repeating: .finish, count: plan.entries.count)
    guard
      let (found, included, hidden) = forward(
        plan,
        { entries throws(ModelError) in try model.language.forwardBatch(entries, cache: cache) }
      )  // (R, C)
    else { return outcomes }
    let C = model.weights.config.text.hiddenSize
    var row = 0
    for (index, step) in plan.entries.enumerated() where included[index] {
      if step.producesOutput {
        if let sequence = found[index] {
          let score = model.score(
            lastHidden: Array(hidden[(row * C)..<((row + 1) * C)]),
            head: sequence.version.head
          )
          sequence.group.record(score, at: sequence.index)
        }
        row += 1
      } else {
        outcomes[index] = .none
      }
    }
    return outcomes
  }

  func sequenceEnded(_ id: SequenceID, reason: EndReason) {
    guard let sequence = registry.remove(id) else { return }
    if let error = BatchErrors.error(for: reason, what: "scoring") {
      sequence.group.fail(error)
    } else {
      sequence.group.left(sequence.index)
    }
  }

  func canAdvance(_ id: SequenceID) -> Bool { true }
}
