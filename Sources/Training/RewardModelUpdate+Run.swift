// A reward-model update run and its adoption rule (issue 13 §2): measure the current version on
// the held-out pairs, train `maxSteps` optimizer steps at most (epochs over the training pairs,
// shuffled per epoch by a seeded generator, batches of `batchSize`, the last one partial as HF's
// DataLoader), measure the candidate on the same pairs, and adopt it only if its accuracy is at
// least the current one's minus the tolerance.
public import Engine
public import Models

/// Whether a candidate reward model replaces the current one, and why.
public struct RewardModelAdoption: Sendable, Equatable {
  public var adopted: Bool
  /// Held-out pairwise accuracy of the candidate (nil: no held-out pairs).
  public var candidateAccuracy: Double?
  /// The current version's accuracy on the same pairs (nil: none to compare with).
  public var currentAccuracy: Double?
  public var reason: String

  /// The rule of `RewardModelTrainingSettings.adopts`, with a reason.
  public static func decide(
    candidate: Double?,
    current: Double?,
    settings: RewardModelTrainingSettings
  ) -> RewardModelAdoption {
    func result(_ adopted: Bool, _ reason: String) -> RewardModelAdoption {
      RewardModelAdoption(
        adopted: adopted,
        candidateAccuracy: candidate,
        currentAccuracy: current,
        reason: reason
      )
    }
    guard settings.adoptOnlyIfAccuracyHolds else {
      return result(true, "adopted: the accuracy rule is off")
    }
    guard let candidate else {
      return result(false, "not adopted: no held-out pairs to measure the candidate on")
    }
    guard let current else {
      return result(true, "adopted: no current version to compare with")
    }
    let text =
      "held-out accuracy \(format(candidate)) vs current \(format(current)), tolerance \(format(settings.accuracyTolerance))"
    return settings.adopts(candidate: candidate, current: current)
      ? result(true, "adopted: " + text)
      : result(false, "not adopted: the accuracy dropped (" + text + ")")
  }

  private static func format(_ x: Double) -> String {
    let scaled = (x * 10000).rounded() / 10000
    return "\(scaled)"
  }
}

/// What an update run produced.
public struct RewardModelUpdateResult: Sendable {
  /// The candidate LoRA (fp32), servable by the reward runner.
  public var adapter: DecoderAdapter
  /// The candidate's score head `(C)` and bias (trained unless `trainHead` is off).
  public var headWeight: [Float]
  public var headBias: Float?
  /// One entry per optimizer step.
  public var steps: [RewardModelStepResult]
  public var adoption: RewardModelAdoption
  /// Wall time of the training steps (not the evaluations), in seconds.
  public var trainingSeconds: Double
  /// Pairs the steps consumed (a pair seen twice counts twice).
  public var pairsTrained: Int
}

extension RewardModelUpdate {
  /// The whole update: see the file comment. `current`: the current version's held-out accuracy
  /// when the caller knows it; nil = measure the starting parameters (the current version when
  /// started from its adapter). Throws when there are fewer than `minimumPairs` training pairs.
  /// `yielding` goes to every step and both held-out evaluations (`ModelError.interrupted` ends
  /// the run; nothing is returned, so nothing partial is adopted). `transposedWeights`: see
  /// `DecoderTraining.init`.
  public static func run(
    weights: LlavaWeights,
    settings: RewardModelTrainingSettings,
    train: [PreferenceExample],
    heldOut: [PreferenceExample],
    from adapter: DecoderAdapter? = nil,
    head: (weight: [Float], bias: Float?)? = nil,
    currentAccuracy: Double? = nil,
    seed: UInt64 = 0,
    transposedWeights: Bool = false,
    yielding: TrainingYield? = nil
  ) throws(ModelError) -> RewardModelUpdateResult {
    guard train.count >= settings.minimumPairs else {
      throw .training("\(train.count) training pairs; an update needs \(settings.minimumPairs)")
    }
    var update = try RewardModelUpdate(
      weights: weights,
      settings: settings,
      from: adapter,
      startingHead: head,
      seed: seed,
      transposedWeights: transposedWeights
    )
    var current = currentAccuracy
    if current == nil { current = try update.accuracy(heldOut, yielding: yielding) }
    let clock = ContinuousClock()
    let started = clock.now
    var steps: [RewardModelStepResult] = []
    var pairs = 0
    var generator = Xoshiro256StarStar(seed: seed ^ 0x5245_574D_4F44_454C)  // "REWMODEL"
    let cap = settings.maxSteps ?? Int.max
    epochs: for _ in 0..<settings.epochs {
      var order = Array(train.indices)
      for i in stride(from: order.count - 1, to: 0, by: -1) {
        order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
      }
      for start in stride(from: 0, to: order.count, by: settings.batchSize) {
        if steps.count >= cap { break epochs }
        let batch = order[start..<min(start + settings.batchSize, order.count)].map { train[$0] }
        steps.append(try update.step(batch, yielding: yielding))
        pairs += batch.count
      }
    }
    let elapsed = clock.now - started
    let seconds =
      Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let candidate = try update.accuracy(heldOut, yielding: yielding)
    let head = update.head()
    return RewardModelUpdateResult(
      adapter: try update.adapter(),
      headWeight: head.weight,
      headBias: head.bias,
      steps: steps,
      adoption: .decide(candidate: candidate, current: current, settings: settings),
      trainingSeconds: seconds,
      pairsTrained: pairs
    )
  }
}
