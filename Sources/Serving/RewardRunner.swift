// The reward model behind rlhfd.v1.Reward. Renders LLaVA-RLHF's reward-model input
// (RLHF/prompts/fact_rlhf_reward_prompt.txt; research/rlhf-spec.md §2) for each response:
//
//   <s>{system} USER: <image>\n{prompt} ASSISTANT: {response}</s> USER: Please evaluate the
//   quality of your last response. There are several dimensions you should consider in your
//   evaluation:\n\n1. Accurate: … inconsistent with the image. {factual}\n2. Helpful: …\n
//   3. Language Natural: …\n4. Concise: …\n\nA good response should be accurate, helpful,
//   language natural, and concise. ASSISTANT: Following your definitions, the quality score
//   of my last response is
//
// with {factual} = "Specifically, the AI's response should be fully supported by the
// combination of the following captions:\n" + "  - {caption}\n" per caption when facts carry
// captions (in the given order, not shuffled, so scores are reproducible), and without the
// " {factual}" part otherwise. No trailing EOS: the score is read at the final "is". The image is
// encoded once (cached by SHA-256 like the policy's, in the reward model's own cache). The
// candidates of a request are one group in the reward model's continuous batch: their shared
// image+prompt prefix is computed once, their tails in packed batched passes (RewardExecutor).
// Symbolic rewards: SymbolicRewards.swift. Text responses count as ended with EOS (they are
// complete turns). Reward-model versions (`versions`, Versions/RewardModelVersions.swift): a
// request runs on the version current at its arrival, with its LoRA and score head, and
// answers its id; the base version (`settings.rewardModelVersion`) is the checkpoint alone.
import Checkpoints
public import Engine
import Foundation
public import Models
public import Scheduler
public import ServingTypes
import Synchronization
public import Tokenizer

/// Settings of the reward runner that are not in the checkpoint.
public struct RewardRunnerSettings: Sendable {
  /// The conversation template (LLaVA-RLHF's reward model was trained with Vicuna-v1's).
  public var template = ChatTemplate.llavaRLHF
  public var imageLimits = ModelRunnerSettings().imageLimits
  public var imageCacheBytes = 64 << 20
  public var weights = RewardWeights()
  public var rewardModelVersion = "base"
  public var padToSquare = false
  /// Continuous batching: KV cache budget, batch size, step budget, admission limits.
  public var batching = BatchingSettings()
  /// Products with bf16 weights (`MatmulPrecision`), as for the policy.
  public var precision = MatmulPrecision.fp32

  public init() {}
}

/// Scores responses with the reward model in its own continuous batch. See the file comment.
public final class RewardRunner: RewardBackend, @unchecked Sendable {
  public let model: RewardModel
  public let settings: RewardRunnerSettings
  /// The served reward-model versions; the base is `settings.rewardModelVersion`.
  public let versions: RewardModelVersions
  let batch: BatchedModel<RewardExecutor>

  public var tokenizer: SentencePieceTokenizer { batch.tokenizer }
  var features: ImageFeatures { batch.features }
  var imageTokenId: Int32 { batch.imageTokenId }

  /// The scheduler's counters (waiting, running, KV blocks) for tests and metrics.
  public var batchSnapshot: SchedulerSnapshot { batch.scheduler.snapshot }

  /// Interactive work in this runner now (`RunnerLoad`), for the trainer's background lane.
  public var load: RunnerLoad { batch.load }

  /// Interactive requests preparing, waiting or running (`RunnerLoad.interactiveDemand`).
  public var interactiveDemand: Int { batch.load.interactiveDemand }

  static let evaluationHead =
    " USER: Please evaluate the quality of your last response. There are several dimensions you should consider in your evaluation:\n\n1. Accurate: The AI should provide factual and accurate information from the image, and refrain from making statements that are not supported by the image or inconsistent with the image."
  static let factualIntro =
    "Specifically, the AI's response should be fully supported by the combination of the following captions:\n"
  static let evaluationTail =
    "\n2. Helpful: The AI’s response should precisely serve the user's needs and interests, while grounding the response in the image.\n3. Language Natural: The AI should employ language that flows smoothly and is free from repetitive or awkward constructs.\n4. Concise: The AI should efficiently address the task or answer the question, communicating the necessary information with brevity and clarity.\n\nA good response should be accurate, helpful, language natural, and concise. ASSISTANT: Following your definitions, the quality score of my last response is"

  /// Loads a reward checkpoint (llava-hf layout with a `score` head) and its tokenizer.
  public init(directory: String, settings: RewardRunnerSettings = .init()) throws {
    let weights = try LlavaWeights(
      directory: directory,
      head: .reward,
      precision: settings.precision
    )
    let model = RewardModel(weights: weights)
    self.model = model
    self.settings = settings
    versions = RewardModelVersions(
      base: RewardModelVersionInfo(
        id: settings.rewardModelVersion,
        parent: "",
        source: "base",
        adapterPath: nil,
        createdUnixMs: 0
      ),
      check: { adapter, head in try model.check(adapter: adapter, head: head) }
    )
    batch = try BatchedModel(
      directory: directory,
      weights: weights,
      language: model.language,
      name: "reward",
      what: "reward_model",
      imageToken: settings.template.imageToken,
      images: ImageSettings(
        padToSquare: settings.padToSquare,
        limits: settings.imageLimits,
        cacheBytes: settings.imageCacheBytes
      ),
      batching: settings.batching,
      executor: { cache, features in
        RewardExecutor(model: model, cache: cache, features: features)
      }
    )
  }

  /// The evaluation turn appended after the candidate's `</s>`.
  public static func evaluationPrompt(captions: [String]) -> String {
    if captions.isEmpty { return evaluationHead + evaluationTail }
    return evaluationHead + " " + factualIntro + captions.map { "  - \($0)\n" }.joined()
      + evaluationTail
  }

  /// The whole reward-model text of one response.
  public func render(prompt: String, response: String, captions: [String]) -> String {
    settings.template.render(.chat(prompt, imageCount: 1)) + " " + response
      + settings.template.turnTerminator + Self.evaluationPrompt(captions: captions)
  }

  /// Token ids of `text` with the `<image>` token expanded to the image's feature rows.
  public func tokens(_ text: String) throws -> [Int32] {
    let ids: [Int32]
    do { ids = try tokenizer.encode(text, addBOS: true) } catch {
      throw BackendError(.invalidArgument, "the text cannot be tokenized: \(error)")
    }
    let rows = model.weights.config.imageFeatureCount
    return ids.flatMap { $0 == imageTokenId ? Array(repeating: $0, count: rows) : [$0] }
  }

  public func score(_ request: RewardRequest) async throws -> RewardResult {
    let submitted = ContinuousClock.now
    let mark = batch.preparing.mark(request.priority)
    defer { mark.done() }
    let lease = versions.acquire()  // the version current at arrival
    defer { lease.release() }
    let context = model.weights.config.text.maxPositionEmbeddings
    let fixed =
      request.prompt.utf8.count
      + (request.facts?.captions ?? []).reduce(0) {
        $0 + $1.utf8.count
      }
    for (index, response) in request.responses.enumerated() {
      try BatchErrors.checkTextBytes(
        fixed + response.utf8.count,
        field: "responses[\(index)] with the prompt and captions",
        tokens: context,
        tokenizer
      )
    }
    let prepared = try await BatchErrors.run(on: batch.preprocess) { [self] in
      try prepare(request, version: lease.version)
    }
    let (image, sequences, group) = (prepared.image, prepared.sequences, prepared.group)
    if image.embeddings == nil { try await batch.encodeImages(of: sequences) }  // a new image
    let scores = try await run(sequences, group: group, request: request, mark: mark)
    let rewards = zip(scores, prepared.terms).map { score, terms in
      RewardBreakdown(
        modelScore: score,
        correctness: terms.correctness,
        lengthPenalty: terms.length,
        eosPenalty: terms.eos
      )
    }
    let computed = group.started ?? submitted
    return RewardResult(
      rewards: rewards,
      rewardModelVersion: lease.version.info.id,
      promptTokens: prepared.promptTokens,
      completionTokens: prepared.completionTokens,
      queueTimeMs: ModelRunner.milliseconds(computed - submitted),
      computeTimeMs: ModelRunner.milliseconds(ContinuousClock.now - computed)
    )
  }

  /// Submits the candidates as one group and waits for their scores; cancelling the caller
  /// takes them out of the batch.
  private func run(
    _ sequences: [RewardSequence],
    group: RewardGroup,
    request: RewardRequest,
    mark: PreparingMark
  ) async throws -> [Float] {
    let ids = sequences.map(\.id)
    try batch.admit(
      sequences,
      maxNewTokens: { _ in 0 },
      priority: request.priority,
      deadline: request.deadline
    )
    mark.done()
    let scheduler = batch.scheduler
    return try await withTaskCancellationHandler {
      try await group.wait()
    } onCancel: {
      for id in ids { scheduler.cancel(id) }
      group.fail(CancellationError())
    }
  }
}
