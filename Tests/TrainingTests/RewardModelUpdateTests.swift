// Reward-model updates: the adoption rule by hand, a run on a trivially learnable toy set (the
// preferred response always ends with one token) that lifts held-out accuracy well above chance,
// and examples built from text through the reward runner score exactly as Score does.
import Checkpoints
import Foundation
import Models
import Serving
import ServingTypes
import Testing
import Training

@Suite struct RewardModelAdoptionTests {
  @Test func adoptionRuleByHand() {
    var settings = RewardModelTrainingSettings.small
    settings.accuracyTolerance = 0
    let drop = RewardModelAdoption.decide(candidate: 0.70, current: 0.75, settings: settings)
    #expect(!drop.adopted && drop.reason.contains("dropped"))
    #expect(drop.candidateAccuracy == 0.70 && drop.currentAccuracy == 0.75)
    #expect(RewardModelAdoption.decide(candidate: 0.75, current: 0.75, settings: settings).adopted)
    #expect(RewardModelAdoption.decide(candidate: 0.8, current: 0.75, settings: settings).adopted)
    let none = RewardModelAdoption.decide(candidate: nil, current: 0.75, settings: settings)
    #expect(!none.adopted && none.reason.contains("no held-out pairs"))
    let first = RewardModelAdoption.decide(candidate: 0.1, current: nil, settings: settings)
    #expect(first.adopted && first.reason.contains("no current version"))
    settings.accuracyTolerance = 0.1
    #expect(RewardModelAdoption.decide(candidate: 0.70, current: 0.75, settings: settings).adopted)
    #expect(!RewardModelAdoption.decide(candidate: 0.64, current: 0.75, settings: settings).adopted)
    settings.adoptOnlyIfAccuracyHolds = false
    let off = RewardModelAdoption.decide(candidate: 0.0, current: 1.0, settings: settings)
    #expect(off.adopted && off.reason.contains("rule is off"))
  }
}

@Suite(.enabled(if: TrainingFixtures.present, "Tests/Fixtures is absent"))
struct RewardModelUpdateRunTests {
  /// Text-only pairs: a random prompt, two random responses; the preferred one ends with `mark`,
  /// the other never does; the preferred side is random.
  static func toyPairs(_ count: Int, seed: UInt64, mark: Int32 = 77) -> [PreferenceExample] {
    var g = Xoshiro256StarStar(seed: seed)
    func token() -> Int32 {
      var t: Int32
      repeat { t = Int32(3 + g.next() % 597) } while t == mark
      return t
    }
    return (0..<count).map { _ in
      let prompt = [Int32(1)] + (0..<(4 + Int(g.next() % 5))).map { _ in token() }
      var (good, bad) = ((0..<(2 + Int(g.next() % 5))).map { _ in token() }, [Int32]())
      bad = (0..<(2 + Int(g.next() % 5))).map { _ in token() }
      good.append(mark)
      let secondPreferred = g.next() % 2 == 0
      return PreferenceExample(
        first: prompt + (secondPreferred ? bad : good),
        second: prompt + (secondPreferred ? good : bad),
        imageEmbeddings: nil,
        secondPreferred: secondPreferred
      )
    }
  }

  @Test func toyRunLiftsHeldOutAccuracy() throws {
    let weights = try TrainingFixtures.rewardWeights()
    var settings = RewardModelTrainingSettings.small
    settings.maxSteps = 24
    settings.batchSize = 8
    settings.microBatchSize = 4
    settings.epochs = 4
    settings.minimumPairs = 16
    settings.optimizer.learningRate = 3e-3
    settings.optimizer.warmupSteps = 2
    let train = Self.toyPairs(64, seed: 1)
    let heldOut = Self.toyPairs(40, seed: 2)
    let result = try RewardModelUpdate.run(
      weights: weights,
      settings: settings,
      train: train,
      heldOut: heldOut,
      seed: 7
    )
    let before = try #require(result.adoption.currentAccuracy)
    let after = try #require(result.adoption.candidateAccuracy)
    let perThousand = result.trainingSeconds / Double(result.pairsTrained) * 1000
    print(
      "toy RM run: held-out \(before) -> \(after), loss \(result.steps.first!.loss) -> \(result.steps.last!.loss), \(result.steps.count) steps, \(perThousand) s per 1k pairs"
    )
    #expect(result.steps.count == 24 && result.pairsTrained == 24 * 8)
    #expect(result.steps.allSatisfy { !$0.skipped && $0.loss.isFinite })
    #expect(after >= 0.85 && after > before)
    #expect(result.adoption.adopted && result.adoption.reason.hasPrefix("adopted"))
    // The adapter is the trained LoRA: a servable adapter of the settings' rank.
    #expect(result.adapter.config.rank == settings.lora.rank)
    // Too few pairs is an error, not a silent no-op.
    #expect(throws: ModelError.self) {
      _ = try RewardModelUpdate.run(
        weights: weights,
        settings: settings,
        train: Array(train.prefix(3)),
        heldOut: heldOut
      )
    }
  }

  /// Without the centring term (the only cross-pair term) a batch of 4 in micro-batches of 1
  /// or of 4 gives the same loss, norm and update: the micro-batch gradients add up. A frozen
  /// head stays the checkpoint's while the LoRA moves.
  @Test func microBatchesAddUpAndTheHeadCanBeFrozen() throws {
    let weights = try TrainingFixtures.rewardWeights()
    var settings = RewardModelTrainingSettings.small
    settings.centeringCoefficient = 0
    settings.batchSize = 4
    settings.optimizer.warmupSteps = 0
    settings.optimizer.learningRate = 1e-3
    let batch = Self.toyPairs(4, seed: 4)
    var results: [RewardModelStepResult] = []
    var values: [[Float]] = []
    for micro in [1, 4] {
      settings.microBatchSize = micro
      var update = try RewardModelUpdate(weights: weights, settings: settings, seed: 9)
      results.append(try update.step(batch))
      values.append(update.snapshot())
    }
    #expect(abs(results[0].loss - results[1].loss) <= 1e-6 * max(1, abs(results[1].loss)))
    #expect(abs(results[0].gradNorm - results[1].gradNorm) <= 1e-5 * results[1].gradNorm)
    #expect(results[0].gradNorm > 0)
    #expect(relativeDifference(values[0], values[1]) <= 1e-5)
    settings.trainHead = false
    var frozen = try RewardModelUpdate(weights: weights, settings: settings, seed: 9)
    let head = frozen.head()
    let before = frozen.snapshot()
    _ = try frozen.step(batch)
    #expect(frozen.head() == head)
    #expect(frozen.snapshot() != before)
    // The step's parts were timed (TrainingBench's figures).
    let times = frozen.lastStepTimes
    #expect(times.forward > 0 && times.backward > 0 && times.optimizer > 0)
  }

  /// A checkpoint without a score head (the policy) trains a fresh one when asked to.
  @Test func aFreshHeadOnAPolicyCheckpoint() throws {
    let weights = try LlavaWeights(directory: TrainingFixtures.path("tiny-llava-policy"))
    #expect(throws: ModelError.self) {
      _ = try RewardModelUpdate(weights: weights, settings: .small)
    }
    var update = try RewardModelUpdate(weights: weights, settings: .small, head: .zero(bias: false))
    #expect(update.head().weight.allSatisfy { $0 == 0 } && update.head().bias == nil)
    var settings = update.settings
    settings.optimizer.warmupSteps = 0
    update = try RewardModelUpdate(weights: weights, settings: settings, head: .zero(bias: false))
    _ = try update.step(Self.toyPairs(2, seed: 5))
    #expect(update.head().weight.contains { $0 != 0 })
  }

  @Test func accuracyAndScoresAgree() throws {
    let weights = try TrainingFixtures.rewardWeights()
    let update = try RewardModelUpdate(weights: weights, settings: .small)
    let pairs = Self.toyPairs(12, seed: 3)
    let (first, second) = try update.scores(pairs)
    let right = pairs.indices.filter { (second[$0] >= first[$0]) == pairs[$0].secondPreferred }
    #expect(try update.accuracy(pairs) == Double(right.count) / 12)
    #expect(try update.accuracy([]) == nil)
    // A fresh LoRA (B = 0) is the base model: the scores are the serving reward model's.
    let served = try RewardModel(weights: weights).score(tokens: pairs[0].first)
    #expect(abs(served - first[0]) <= 1e-5)
  }
}

@Suite(.enabled(if: TrainingFixtures.present, "Tests/Fixtures is absent"))
struct RewardModelExamplesTests {
  /// The embedded default reward model (a 1024-position context holds the whole evaluation turn).
  static func runner() throws -> RewardRunner {
    let directory = URL(fileURLWithPath: TrainingFixtures.root)
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("models/default/reward").path
    return try RewardRunner(directory: directory)
  }

  @Test func examplesFromTextScoreAsScoreDoes() async throws {
    let runner = try Self.runner()
    let bytes = [UInt8](
      try Data(contentsOf: URL(fileURLWithPath: TrainingFixtures.path("images/rgb_64x48.png")))
    )
    let captions = ["a red square", "a green field", "a blue sky"]
    let example = try PreferenceExample.make(
      runner: runner,
      prompt: "What is in the image?",
      image: .data(bytes),
      captions: captions,
      first: "A cat.",
      second: "Colours.",
      secondPreferred: true,
      shuffleSeed: nil,
      example: "pair-0"
    )
    var facts = RewardFacts()
    facts.captions = captions
    let scored = try await runner.score(
      RewardRequest(
        prompt: "What is in the image?",
        image: .data(bytes),
        responses: ["A cat.", "Colours."],
        facts: facts
      )
    )
    let update = try RewardModelUpdate(weights: runner.model.weights, settings: .small)
    let (first, second) = try update.scores([example])
    #expect(abs(first[0] - scored.rewards[0].modelScore) <= 1e-4)
    #expect(abs(second[0] - scored.rewards[1].modelScore) <= 1e-4)
    // Shuffled captions: the same order for both responses, fixed by (seed, example).
    let shuffled = try PreferenceExample.make(
      runner: runner,
      prompt: "What is in the image?",
      image: .data(bytes),
      captions: captions,
      first: "A cat.",
      second: "Colours.",
      secondPreferred: true,
      shuffleSeed: 5,
      example: "pair-0"
    )
    let order = FactualPrompt.shuffledCaptions(captions, seed: 5, example: "pair-0")
    let text = runner.render(prompt: "What is in the image?", response: "A cat.", captions: order)
    #expect(shuffled.first == (try runner.tokens(text)))
    #expect(shuffled.imageEmbeddings == example.imageEmbeddings)
  }
}
