// One reward-model optimizer step on a batch of preference pairs (issue 13 §2; research/
// rlhf-spec.md §2, LLaVA-RLHF's train_reward_model.sh run by HF's Trainer), llm.c style over
// `DecoderTraining`:
//
//   zero gradients
//   per micro-batch of m pairs (k micro-batches):
//     forward both sequences of each pair (same prompt, facts and image; two responses),
//     r = score head at the last row (the final "is" of the evaluation turn)
//     RewardModelLoss over the micro-batch (Bradley–Terry + c·|mean(r₁ + r₂)|; the centring
//     term is the micro-batch's, as each GPU's batch of 4 in the reference), upstream
//     gradients ÷ k (HF divides the loss by the accumulation steps; DDP averages devices)
//     backward: head (weight, and bias if any) and LoRA gradients accumulate (+=)
//   clip the global norm (max_grad_norm 0.3), AdamW at the schedule's rate for this step
//   (0-based: constant with warmup runs its first step at rate 0, as transformers does)
//
// The score head is trained by default: LLaVA-RLHF's reward head is a fresh Linear(h, 1) with
// bias 0 that the RM run trains and saves beside the adapter (`reward_head`); settings can
// freeze it (`trainHead`). Each micro-batch keeps its 2m activations until its backward.
public import Engine
public import Models

/// One preference pair as the reward model sees it: the two token sequences (image tokens
/// expanded, as `RewardRunner.tokens` gives them) and the image's projected rows `(N, C)` they
/// share, and which response is better (AlpacaFarm's `choice`: true = the second).
public struct PreferenceExample: Sendable, Equatable {
  public var first: [Int32]
  public var second: [Int32]
  public var imageEmbeddings: [Float]?
  public var secondPreferred: Bool

  public init(first: [Int32], second: [Int32], imageEmbeddings: [Float]?, secondPreferred: Bool) {
    self.first = first
    self.second = second
    self.imageEmbeddings = imageEmbeddings
    self.secondPreferred = secondPreferred
  }
}

/// The figures of one optimizer step.
public struct RewardModelStepResult: Sendable, Equatable {
  /// The mean over micro-batches of each micro-batch's loss (what HF's Trainer logs).
  public var loss: Double
  /// Pairwise accuracy on the step's batch, before the update.
  public var accuracy: Double
  /// The global gradient norm before clipping.
  public var gradNorm: Double
  /// The rate this step ran at.
  public var learningRate: Float
  /// True when the gradient norm was not finite: no update was made.
  public var skipped: Bool
}

/// A reward model's trainable state (LoRA and head) and its optimizer.
public struct RewardModelUpdate: ~Copyable {
  public let training: DecoderTraining
  public let settings: RewardModelTrainingSettings
  /// LoRA A/B of every adapted linear, the score head; gradients and AdamW moments beside.
  public var parameters: TrainableParameters
  /// Where the last `step` spent its time.
  public private(set) var lastStepTimes = TrainingStepTimes()

  /// Starts from `adapter` (the current reward-model version's LoRA; its rank and targets must
  /// match the settings) or, without one, from a fresh LoRA (A seeded, B zero: the base model).
  /// The head starts from `startingHead` (the current version's trained head) or else the
  /// checkpoint's `score` (`head: .zero(bias:)`: a fresh head, for a checkpoint without one,
  /// e.g. the benchmark on a policy-shaped checkpoint). `transposedWeights`: see
  /// `DecoderTraining.init` (the backward's input gradients at the forward's rate on AMX hosts).
  public init(
    weights: LlavaWeights,
    settings: RewardModelTrainingSettings,
    from adapter: DecoderAdapter? = nil,
    startingHead: (weight: [Float], bias: Float?)? = nil,
    seed: UInt64 = 0,
    head: DecoderScoreHead = .checkpoint,
    transposedWeights: Bool = false
  ) throws(ModelError) {
    let training = try DecoderTraining(
      weights: weights,
      lora: try settings.lora.decoderSettings(),
      head: head,
      transposedWeights: transposedWeights
    )
    let parameters = try training.makeParameters(seed: seed, from: adapter)
    if let startingHead {
      guard startingHead.weight.count == training.trainables.head?.count else {
        throw .training(
          "the reward-model version's head has \(startingHead.weight.count) values; the model's has \(training.trainables.head?.count ?? 0)"
        )
      }
      Self.setHead(startingHead, of: training, in: parameters)
    }
    self.training = training
    self.settings = settings
    self.parameters = parameters
  }

  /// One optimizer step on `batch` (see the file comment). `yielding` is called before every
  /// micro-batch's forwards and backward (⌈pairs / microBatchSize⌉ calls); when it throws, the
  /// step ends with `ModelError.interrupted` before the optimizer update (the gradients are
  /// partial, the parameters and moments as before the step).
  public mutating func step(
    _ batch: [PreferenceExample],
    yielding: TrainingYield? = nil
  ) throws(ModelError) -> RewardModelStepResult {
    guard !batch.isEmpty else { throw .training("an empty batch of preference pairs") }
    let micro = max(1, settings.microBatchSize)
    let starts = Array(stride(from: 0, to: batch.count, by: micro))
    let share = 1 / Double(starts.count)
    var times = TrainingStepTimes()
    var mark = TrainingStepTimes.now()
    parameters.zeroGradients()
    var (loss, right) = (0.0, 0.0)
    for (k, start) in starts.enumerated() {
      try Self.yieldPoint(yielding)
      let chunk = batch[start..<min(start + micro, batch.count)]
      var kept: [KeptActivations] = []  // first, second per pair
      var (first, second) = ([Double](), [Double]())
      for (i, example) in chunk.enumerated() {
        for (j, tokens) in [example.first, example.second].enumerated() {
          let acts = try training.forward(
            tokens: tokens,
            imageEmbeddings: example.imageEmbeddings,
            parameters: parameters,
            dropoutSeed: dropoutSeed(k: k, pair: i, side: j)
          )
          let r = Double(try training.values(acts, rows: [acts.T - 1], parameters: parameters)[0])
          if j == 0 { first.append(r) } else { second.append(r) }
          kept.append(KeptActivations(acts))
        }
      }
      let result = RewardModelLoss.loss(
        first: first,
        second: second,
        secondPreferred: chunk.map(\.secondPreferred),
        centeringCoefficient: settings.centeringCoefficient
      )
      loss += result.loss * share
      right += result.accuracy * Double(chunk.count)
      var now = TrainingStepTimes.now()
      (times.forward, mark) = (times.forward + now - mark, now)
      for (index, box) in kept.enumerated() {
        let d = (index % 2 == 0 ? result.dFirst : result.dSecond)[index / 2] * share
        let dHidden = try training.valuesBackward(
          box.acts,
          rows: [box.acts.T - 1],
          dValue: [Float(d)],
          parameters: parameters
        )
        training.backward(box.acts, dHidden: dHidden, parameters: parameters)
      }
      now = TrainingStepTimes.now()
      (times.backward, mark) = (times.backward + now - mark, now)
    }
    let result = finishStep(loss: loss, accuracy: right / Double(batch.count))
    times.optimizer = TrainingStepTimes.now() - mark
    lastStepTimes = times
    return result
  }

  /// Clipping, the schedule and AdamW over the accumulated gradients.
  private mutating func finishStep(loss: Double, accuracy: Double) -> RewardModelStepResult {
    let frozen = settings.trainHead ? nil : headValues()
    if frozen != nil { zeroHeadGradients() }
    let optimizer = settings.optimizer
    let norm: Float =
      if let maxNorm = optimizer.maxGradNorm {
        parameters.clipGradients(maxNorm: maxNorm)
      } else {
        Float(GradientClipping.norm([UnsafeBufferPointer(parameters.gradients.buffer)]))
      }
    let rate = optimizer.learningRateSchedule.learningRate(
      base: optimizer.learningRate,
      step: parameters.step
    )
    guard norm.isFinite else {
      return RewardModelStepResult(
        loss: loss,
        accuracy: accuracy,
        gradNorm: Double(norm),
        learningRate: rate,
        skipped: true
      )
    }
    parameters.update(optimizer.adamW, learningRate: rate)
    if let frozen { restoreHead(frozen) }
    return RewardModelStepResult(
      loss: loss,
      accuracy: accuracy,
      gradNorm: Double(norm),
      learningRate: rate,
      skipped: false
    )
  }

  /// The scores (r₁, r₂) of each pair under the current parameters (no gradients); `yielding`
  /// is called before each pair's two forwards.
  public func scores(
    _ examples: [PreferenceExample],
    yielding: TrainingYield? = nil
  ) throws(ModelError) -> (first: [Float], second: [Float]) {
    var (first, second) = ([Float](), [Float]())
    for example in examples {
      try Self.yieldPoint(yielding)
      first.append(try score(example.first, example.imageEmbeddings))
      second.append(try score(example.second, example.imageEmbeddings))
    }
    return (first, second)
  }

  /// Pairwise accuracy on `examples` (held-out evaluation), or nil when there are none.
  public func accuracy(
    _ examples: [PreferenceExample],
    yielding: TrainingYield? = nil
  ) throws(ModelError) -> Double? {
    guard !examples.isEmpty else { return nil }
    let (first, second) = try scores(examples, yielding: yielding)
    return RewardModelLoss.accuracy(
      first: first,
      second: second,
      secondPreferred: examples.map(\.secondPreferred)
    )
  }

  /// The trained LoRA as a servable adapter (what the reward runner loads).
  public func adapter() throws(ModelError) -> DecoderAdapter { try training.adapter(parameters) }

  /// A copy of every trainable value (LoRA A/B, head), in `parameters.segments` order.
  public func snapshot() -> [Float] {
    Array(UnsafeBufferPointer(parameters.parameters.buffer))
  }

  /// The score head's weight `(C)` and bias (nil without one).
  public func head() -> (weight: [Float], bias: Float?) {
    let values = headValues()
    return (values.weight, values.bias)
  }

  private func score(_ tokens: [Int32], _ image: [Float]?) throws(ModelError) -> Float {
    let acts = try training.forward(tokens: tokens, imageEmbeddings: image, parameters: parameters)
    return try training.values(acts, rows: [acts.T - 1], parameters: parameters)[0]
  }

  /// One yield point: the hook's interruption as a model error.
  static func yieldPoint(_ hook: TrainingYield?) throws(ModelError) {
    guard let hook else { return }
    do { try hook() } catch { throw .interrupted(error) }
  }

  /// LoRA dropout's seed for one sequence of a step (unused when the dropout is 0).
  private func dropoutSeed(k: Int, pair: Int, side: Int) -> UInt64 {
    UInt64(parameters.step) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(k * 4096 + pair * 2 + side)
  }

  private func headValues() -> (weight: [Float], bias: Float?) {
    guard let w = training.trainables.head else { return ([], nil) }
    let weight = Array(UnsafeBufferPointer(start: parameters.parameters(w), count: w.count))
    return (weight, training.trainables.headBias.map { parameters.parameters($0)[0] })
  }

  private func zeroHeadGradients() {
    for segment in [training.trainables.head, training.trainables.headBias].compactMap({ $0 }) {
      parameters.gradients(segment).update(repeating: 0, count: segment.count)
    }
  }

  private func restoreHead(_ values: (weight: [Float], bias: Float?)) {
    Self.setHead(values, of: training, in: parameters)
  }

  /// Writes a head's values into the set's head segments.
  private static func setHead(
    _ values: (weight: [Float], bias: Float?),
    of training: DecoderTraining,
    in parameters: borrowing TrainableParameters
  ) {
    if let w = training.trainables.head {
      parameters.parameters(w).update(from: values.weight, count: w.count)
    }
    if let b = training.trainables.headBias, let bias = values.bias {
      parameters.parameters(b)[0] = bias
    }
  }

}

/// A training forward's activations kept until the micro-batch's backward.
private final class KeptActivations {
  let acts: TrainingActivations
  init(_ acts: consuming TrainingActivations) { self.acts = acts }
}
