import Foundation
import Imaging
import Models
import ServingTypes
import Testing

// The reward runner on the tiny fixture reward model: the rendered reward input tokenizes to the
// reference ids, the whole path (image decode + preprocess, tokenizer, image-token expansion,
// forward, head) reproduces the reference scores, and the symbolic reward terms.
@testable import Daemon
@testable import Serving

enum RewardFixtures {
  static let runner: RewardRunner = {
    var settings = RewardRunnerSettings()
    settings.imageLimits.minWidth = 2
    settings.imageLimits.minHeight = 2
    do {
      return try RewardRunner(
        directory: RunnerFixtures.root + "/tiny-llava-reward",
        settings: settings
      )
    } catch {
      fatalError("cannot load the fixture reward model: \(error)")
    }
  }()

  /// The embedded default reward model: the fixture's weights with a 1024-position context, so
  /// the full LLaVA-RLHF evaluation turn (~440 tokens with this tiny vocabulary) fits.
  static let embedded: RewardRunner = {
    var settings = RewardRunnerSettings()
    settings.imageLimits.minWidth = 2
    settings.imageLimits.minHeight = 2
    let directory = URL(fileURLWithPath: RunnerFixtures.root)
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("models/default/reward").path
    do {
      return try RewardRunner(directory: directory, settings: settings)
    } catch {
      fatalError("cannot load the embedded reward model: \(error)")
    }
  }()

  static func reference() throws -> [String: Any] {
    let path = RunnerFixtures.root + "/reference/reward.json"
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }
}

@Suite struct RewardRunnerTests {
  /// The fixture was built with a shortened evaluation turn (`rm_eval_prompt`, no criteria
  /// list); everything else (system prompt, turn layout, `</s>`, tokenization) is the runner's.
  @Test func renderedInputMatchesTheReferenceIdsAndScores() throws {
    let runner = RewardFixtures.runner
    let json = try RewardFixtures.reference()
    let shortEvaluation = try #require(json["rm_eval_prompt"] as? String)
    let cases = try #require(json["cases"] as? [[String: Any]])
    #expect(cases.count == 3)
    let image = try RunnerFixtures.image("rgb_64x48.png")
    let prepared = try runner.features.prepare(.data(image), field: "image")
    let embeddings = try runner.features.embeddings(prepared) { pixels throws(ModelError) in
      try runner.model.imageEmbeddings(pixels: pixels)
    }
    for entry in cases {
      let response = try #require(entry["response"] as? String)
      let rendered = runner.render(
        prompt: "What is in the image?",
        response: response,
        captions: []
      )
      .replacingOccurrences(of: RewardRunner.evaluationPrompt(captions: []), with: shortEvaluation)
      #expect(rendered == entry["text"] as? String)
      let ids = try runner.tokens(rendered)
      let expected = (entry["input_ids"] as? [NSNumber] ?? []).map { $0.int32Value }
      #expect(ids == expected)
      let score = try runner.model.score(tokens: ids, imageEmbeddings: embeddings)
      let reference = try #require((entry["score"] as? NSNumber)?.floatValue)
      #expect(abs(score - reference) <= 1e-4)
    }
  }

  @Test func scoreReturnsOneBreakdownPerResponseInOrder() async throws {
    let runner = RewardFixtures.embedded
    let image = try RunnerFixtures.image("rgb_64x48.png")
    let responses = ["A yellow circle.", "A red bus.", "A cat on a sofa."]
    var facts = RewardFacts()
    facts.captions = ["A yellow circle and a blue rectangle.", "Shapes on a white background."]
    let plain = try await runner.score(
      RewardRequest(prompt: "What is in the image?", image: .data(image), responses: responses)
    )
    let factual = try await runner.score(
      RewardRequest(
        prompt: "What is in the image?",
        image: .sha256(ModelRunner.imageKey(image)),
        responses: responses,
        facts: facts
      )
    )
    #expect(plain.rewards.count == 3 && factual.rewards.count == 3)
    for reward in plain.rewards + factual.rewards {
      let sum = reward.modelScore + reward.correctness + reward.lengthPenalty + reward.eosPenalty
      #expect(abs(reward.total - sum) <= 1e-5)
      #expect(reward.lengthPenalty < 0 && reward.eosPenalty == 0)
    }
    // The captions change the reward input, hence the model score.
    #expect(plain.rewards[0].modelScore != factual.rewards[0].modelScore)
    let single = try await runner.score(
      RewardRequest(prompt: "What is in the image?", image: .data(image), responses: [responses[1]])
    )
    #expect(abs(single.rewards[0].modelScore - plain.rewards[1].modelScore) <= 1e-5)
  }

  @Test func inputsOverTheContextAreRejected() async throws {
    let image = try RunnerFixtures.image("rgb_64x48.png")
    await #expect(throws: BackendError.self) {
      _ = try await RewardFixtures.runner.score(
        RewardRequest(prompt: "What is in the image?", image: .data(image), responses: ["x"])
      )
    }
  }

  @Test func factualPromptListsCaptionsUnderAccurate() {
    let text = RewardRunner.evaluationPrompt(captions: ["one", "two"])
    #expect(
      text.contains(
        "inconsistent with the image. Specifically, the AI's response should be fully supported by the combination of the following captions:\n  - one\n  - two\n\n2. Helpful:"
      )
    )
    let plain = RewardRunner.evaluationPrompt(captions: [])
    #expect(plain.contains("inconsistent with the image.\n2. Helpful:"))
    #expect(plain.hasPrefix(" USER: Please evaluate the quality of your last response."))
    #expect(
      plain.hasSuffix(
        "ASSISTANT: Following your definitions, the quality score of my last response is"
      )
    )
  }

  @Test func badImagesAreRejected() async throws {
    let runner = RewardFixtures.runner
    await #expect(throws: BackendError.self) {
      _ = try await runner.score(
        RewardRequest(
          prompt: "p",
          image: .sha256(String(repeating: "0", count: 64)),
          responses: ["r"]
        )
      )
    }
    await #expect(throws: BackendError.self) {
      _ = try await runner.score(
        RewardRequest(prompt: "p", image: .data([1, 2, 3]), responses: ["r"])
      )
    }
  }
}

@Suite struct SymbolicRewardsTests {
  func facts(choice: Int? = nil, yesNo: Bool? = nil) -> RewardFacts {
    var facts = RewardFacts()
    facts.choices = ["cat", "dog", "bus", "car"]
    facts.correctChoice = choice
    facts.yesNoAnswer = yesNo
    return facts
  }

  @Test func multipleChoice() {
    let f = facts(choice: 2)
    #expect(SymbolicRewards.correctness("C. A bus.", facts: f) == 1)
    #expect(SymbolicRewards.correctness("So the correct option is C.", facts: f) == 1)
    #expect(SymbolicRewards.correctness("A. A cat.", facts: f) == 0)
    #expect(SymbolicRewards.correctness("C is it", facts: f) == 0)
    #expect(SymbolicRewards.correctness("C. A bus.", facts: nil) == 0)
  }

  @Test func yesNo() {
    #expect(SymbolicRewards.correctness("No, there is none.", facts: facts(yesNo: false)) == 0.5)
    #expect(SymbolicRewards.correctness("Yes, there is.", facts: facts(yesNo: false)) == -0.5)
    #expect(SymbolicRewards.correctness("Maybe.", facts: facts(yesNo: false)) == 0)
    // LLaVA-RLHF leaves "Yes" answers unrewarded.
    #expect(SymbolicRewards.correctness("Yes.", facts: facts(yesNo: true)) == 0)
  }

  @Test func weightedTerms() {
    var weights = RewardWeights()
    let t = SymbolicRewards.terms(
      "C. A bus.",
      tokens: 448,
      endedWithEOS: false,
      facts: facts(choice: 2),
      weights: weights
    )
    #expect(t.correctness == 2)
    #expect(t.length == -5)
    #expect(t.eos == -8)
    let done = SymbolicRewards.terms(
      "x",
      tokens: 0,
      endedWithEOS: true,
      facts: nil,
      weights: weights
    )
    #expect(done.correctness == 0 && done.length == 0 && done.eos == 0)
    weights.length = 5
    weights.lengthNormalizer = 100
    let bonus = SymbolicRewards.terms(
      "x",
      tokens: 10,
      endedWithEOS: true,
      facts: nil,
      weights: weights
    )
    #expect(bonus.length == 0.5)
  }
}
