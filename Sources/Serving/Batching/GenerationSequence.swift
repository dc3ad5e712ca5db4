// One generation inside the batch: its prompt and sampled tokens, images, sampler and the
// text it has streamed. Made on the RPC task, then used only on the scheduler thread: each time
// the scheduler asks for an output, `accept(logits:)` samples the next token, streams the new
// text (holding back what could start a stop string) and decides whether the sequence ends.
import Foundation
import Imaging
import Models
import Scheduler
import ServingTypes
import Tokenizer

/// What a generation needs besides its request: fixed per policy.
struct GenerationContext: Sendable {
  let tokenizer: SentencePieceTokenizer
  let eosTokenIds: Set<Int32>
  let policyVersion: String
  let salt: UInt64
  /// The request's hold on its version (released when the sequence ends).
  var lease: PolicyVersionLease? = nil

  /// The context of a sequence on `version`: its id in results, its salt in prefix keys.
  func pinned(to version: PolicyVersionLease) -> GenerationContext {
    GenerationContext(
      tokenizer: tokenizer,
      eosTokenIds: eosTokenIds,
      policyVersion: version.id,
      salt: version.salt,
      lease: version
    )
  }
}

final class GenerationSequence: BatchSequence, @unchecked Sendable {
  let id: SequenceID
  let output: GenerationOutput
  let promptCount: Int
  /// Content keys of the prompt positions (prefix sharing).
  let promptKeys: [UInt64]
  let maxNewTokens: Int
  let images: [PreparedImage]
  let imageTokenId: Int32
  var imageEmbeddings: [Float]?
  private(set) var tokens: [Int32]
  private let context: GenerationContext
  private let onSample: @Sendable () -> Void
  private let onFinished: @Sendable (_ result: GenerationResult, _ logprobs: [Float]) -> Void
  private let wantsLogprobs: Bool
  private let stops: [[UInt8]]
  private var sampler: Sampler
  private var detokenizer: IncrementalDecoder
  private var logprobs: [Float] = []
  private var text: [UInt8] = []
  private var emitted = 0
  private var pendingTokens: [Int32] = []
  private var pendingLogprobs: [Float] = []
  private let submitted = ContinuousClock.now
  private var started: ContinuousClock.Instant?
  private var finished = false
  /// The final event, sent by `end` once the scheduler has let go of the sequence, so that a
  /// client that sends its next request at once finds the batch slot free.
  private var final: GenerationEvent?

  init(
    id: SequenceID,
    prompt: [Int32],
    promptKeys: [UInt64],
    images: [PreparedImage],
    imageTokenId: Int32,
    sampling: GenerationSampling,
    parameters: SamplingParameters,
    maxNewTokens: Int,
    context: GenerationContext,
    output: GenerationOutput,
    onSample: @escaping @Sendable () -> Void,
    onFinished: @escaping @Sendable (GenerationResult, [Float]) -> Void = { _, _ in }
  ) {
    self.id = id
    self.promptKeys = promptKeys
    self.onSample = onSample
    self.onFinished = onFinished
    self.tokens = prompt
    self.promptCount = prompt.count
    self.images = images
    self.imageTokenId = imageTokenId
    self.maxNewTokens = maxNewTokens
    self.wantsLogprobs = sampling.logprobs
    self.stops = sampling.stop.map { Array($0.utf8) }
    self.sampler = Sampler(parameters)
    self.detokenizer = context.tokenizer.makeIncrementalDecoder()
    self.context = context
    self.output = output
  }

  var generated: ArraySlice<Int32> { tokens[promptCount...] }

  /// The adapter of the sequence's policy version (nil = the base model alone).
  var adapter: (any PolicyAdapter)? { context.lease?.adapter }

  /// Whether the scheduler may give this sequence a row now (its client keeps up).
  var canAdvance: Bool { !output.isBehind }

  func markStarted() {
    if started == nil { started = .now }
  }

  /// Samples the next token from `logits` `(V)`; streams text; `.finish` when done.
  func accept(logits: [Float]) -> StepOutcome {
    if output.isTerminated { return .finish }
    let next = sampler.sample(logits: logits, history: tokens)
    if next.logprob.isNaN {  // no output carries a NaN: the model's logits were not finite
      fail(BackendError(.internalError, "the model produced non-finite logits"))
      return .finish
    }
    onSample()
    tokens.append(next.token)
    logprobs.append(next.logprob)
    pendingTokens.append(next.token)
    pendingLogprobs.append(next.logprob)
    if context.eosTokenIds.contains(next.token) { return finish(.eos, cut: nil) }
    text += Array(detokenizer.push(next.token).utf8)
    if let at = StopStrings.firstMatch(of: stops, in: text, from: max(0, emitted - 256)) {
      return finish(.stop, cut: at)
    }
    flush(upTo: text.count - StopStrings.heldBack(stops, text: text, from: emitted))
    if generated.count >= maxNewTokens { return finish(.length, cut: nil) }
    return .append(key: SequenceKeys.token(next.token, salt: context.salt))
  }

  func fail(_ error: any Error) { end(error) }

  /// The scheduler let go of the sequence: the client gets the final result, or `error`.
  func end(_ error: (any Error)?) {
    guard !finished else { return }
    finished = true
    context.lease?.release()  // the version may be retired once no sequence uses it
    if error == nil, let final { output.send(final) }
    output.finish(throwing: error ?? (final == nil ? CancellationError() : nil))
  }

  private func finish(_ reason: GenerationFinishReason, cut: Int?) -> StepOutcome {
    var reason = reason
    var cut = cut
    if cut == nil {
      text += Array(detokenizer.finish().utf8)
      if reason != .eos, let at = StopStrings.firstMatch(of: stops, in: text, from: 0) {
        cut = at
        reason = .stop
      }
    }
    let end = cut ?? text.count
    flush(upTo: end)
    let now = ContinuousClock.now
    let start = started ?? now
    let result = GenerationResult(
      text: String(decoding: text[0..<end], as: UTF8.self),
      tokenIds: Array(generated),
      logprobs: wantsLogprobs ? logprobs : nil,
      finishReason: reason,
      policyVersion: context.policyVersion,
      generationId: UUID().uuidString.lowercased(),
      promptTokens: promptCount,
      queueTimeMs: ModelRunner.milliseconds(start - submitted),
      computeTimeMs: ModelRunner.milliseconds(now - start)
    )
    onFinished(result, logprobs)  // queued for the store before the client hears of the id
    final = .finished(result)
    return .finish
  }

  private func flush(upTo end: Int) {
    let delta = end > emitted ? String(decoding: text[emitted..<end], as: UTF8.self) : ""
    if !delta.isEmpty || !pendingTokens.isEmpty {
      output.send(
        .delta(
          text: delta,
          tokenIds: pendingTokens,
          logprobs: wantsLogprobs ? pendingLogprobs : nil
        )
      )
    }
    emitted = max(emitted, end)
    pendingTokens.removeAll()
    pendingLogprobs.removeAll()
  }
}
