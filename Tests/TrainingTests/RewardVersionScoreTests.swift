// A reward-model version made by a training update (its LoRA and trained score head) serves
// Score requests with the training forward's scores: the serving path (batched decoder with the
// version's adapter on its rows, the version's head) agrees with `RewardModelUpdate.scores`.
import Foundation
import Imaging
import Models
import Serving
import ServingTypes
import Testing
import Training

@Suite(.enabled(if: TrainingFixtures.present, "Tests/Fixtures is absent"))
struct RewardVersionScoreTests {
  @Test func aVersionScoresAsTheTrainingForward() async throws {
    var runnerSettings = RewardRunnerSettings()
    runnerSettings.imageLimits.minWidth = 2
    runnerSettings.imageLimits.minHeight = 2
    let directory = URL(fileURLWithPath: TrainingFixtures.root)
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("models/default/reward").path
    let runner = try RewardRunner(directory: directory, settings: runnerSettings)
    let bytes = [UInt8](
      try Data(contentsOf: URL(fileURLWithPath: TrainingFixtures.path("images/rgb_64x48.png")))
    )
    let prompt = "What is in the image?"
    let captions = ["a red square", "a blue sky"]
    let responses = [("A cat.", "Colours."), ("A bus on a road.", "Shapes.")]
    let examples = try responses.enumerated().map { index, pair in
      try PreferenceExample.make(
        runner: runner,
        prompt: prompt,
        image: .data(bytes),
        captions: captions,
        first: pair.0,
        second: pair.1,
        secondPreferred: true,
        shuffleSeed: nil,
        example: "pair-\(index)"
      )
    }
    var settings = RewardModelTrainingSettings.small
    settings.optimizer.warmupSteps = 0
    settings.optimizer.learningRate = 1e-2
    settings.batchSize = 2
    settings.microBatchSize = 2
    var update = try RewardModelUpdate(weights: runner.model.weights, settings: settings, seed: 3)
    let startHead = update.head()
    for _ in 0..<2 { _ = try update.step(examples) }
    let head = update.head()
    #expect(head.weight != startHead.weight)  // the head was trained
    let (first, second) = try update.scores(examples)
    let base = try await runner.score(
      RewardRequest(prompt: prompt, image: .data(bytes), responses: [responses[0].0])
    )
    try runner.versions.register(
      RewardModelVersionInfo(
        id: "rm-1",
        parent: "base",
        source: "trainer",
        adapterPath: nil,
        createdUnixMs: 1
      ),
      adapter: try update.adapter(),
      head: head,
      makeCurrent: true
    )
    var facts = RewardFacts()
    facts.captions = captions
    let scored = try await runner.score(
      RewardRequest(
        prompt: prompt,
        image: .data(bytes),
        responses: responses.flatMap { [$0.0, $0.1] },
        facts: facts
      )
    )
    #expect(scored.rewardModelVersion == "rm-1")
    let expected = zip(first, second).flatMap { [$0, $1] }
    var worst: Float = 0
    for (served, trained) in zip(scored.rewards.map(\.modelScore), expected) {
      worst = max(worst, abs(served - trained) / max(1, abs(trained)))
    }
    print("reward-model version Score vs training forward: max relative |Δ| = \(worst)")
    #expect(worst <= 1e-4)
    // Not the base model's scores: the version changed them.
    let unfactual = try await runner.score(
      RewardRequest(prompt: prompt, image: .data(bytes), responses: [responses[0].0])
    )
    #expect(abs(unfactual.rewards[0].modelScore - base.rewards[0].modelScore) > 1e-3)
    // The trainer starts from the current version.
    let current = runner.versions.currentVersion()
    #expect(current.id == "rm-1" && current.head?.weight == head.weight)
  }
}
