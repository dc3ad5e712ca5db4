// Rollout log-probs equal training log-probs (issue 13, "the ratio is 1"): a greedy Generate on
// an internal version made from a trained set, through the runner's real preprocessing, image
// cache, batched paged decoder and sampler, returns log-probs that the training forward
// (`DecoderTraining.forward` + `policyHead`) over `rolloutInputs` + the generated tokens
// reproduces in fp32 within 1e-4.
import Checkpoints
import Foundation
import Imaging
import Models
import Serving
import ServingTypes
import Testing
import Tokenizer

@Suite(.serialized) struct RolloutInputsTests {
  static func runner() throws -> ModelRunner {
    var settings = ModelRunnerSettings()
    settings.template = .llavaRLHF
    settings.imageLimits.minWidth = 2
    settings.imageLimits.minHeight = 2
    return try ModelRunner(
      directory: RunnerFixtures.root + "/tiny-llava-policy",
      settings: settings
    )
  }

  @Test func trainingLogProbsEqualTheRolloutsOnTwoImages() async throws {
    let runner = try Self.runner()
    let weights = runner.model.weights
    // The PEFT fixture (rank 4, alpha 8, all seven linears, non-zero B) as the trained set.
    let training = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(rank: 4, alpha: 8)
    )
    let set = try training.makeParameters(
      from: try DecoderAdapter(directory: AdapterFixtures.peft, base: weights)
    )
    try runner.registerInternal(id: "live-1", parent: "base", adapter: try training.adapter(set))
    var request = GenerationRequest(prompt: "What differs between these two pictures?")
    request.images = [
      .data(try RunnerFixtures.image("rgb_64x48.png")),
      .data(try RunnerFixtures.image("grey_64x48.png")),
    ]
    request.policyVersion = "live-1"
    request.priority = .batch
    request.sampling.maxNewTokens = 10
    request.sampling.logprobs = true
    let (_, _, result) = try await collect(request, runner: runner)
    #expect(result.policyVersion == "live-1")
    let logprobs = try #require(result.logprobs)
    #expect(logprobs.count == result.tokenIds.count && !logprobs.isEmpty)

    let inputs = try runner.rolloutInputs(request)
    let rows = weights.config.imageFeatureCount
    let C = weights.config.text.hiddenSize
    #expect(inputs.query.count == result.promptTokens)
    let imageToken = Int32(weights.config.imageTokenIndex)
    #expect(inputs.query.count { $0 == imageToken } == 2 * rows)
    #expect(inputs.imageRows?.count == 2 * rows * C)
    let tokens = inputs.query + result.tokenIds
    let acts = try training.forward(
      tokens: tokens,
      imageEmbeddings: inputs.imageRows,
      parameters: set
    )
    let head = try training.policyHead(
      acts,
      tokens: tokens,
      targets: Array(inputs.query.count..<tokens.count)
    )
    let worst = zip(head.logProbs, logprobs).map { abs($0 - $1) }.max() ?? .infinity
    print("rollout vs training log-probs over \(logprobs.count) tokens: max |Δ| \(worst)")
    #expect(worst <= 1e-4)

    // The images by hash (the cache Generate filled) give the same inputs.
    var byHash = request
    byHash.images = try ["rgb_64x48.png", "grey_64x48.png"].map {
      .sha256(ModelRunner.imageKey(try RunnerFixtures.image($0)))
    }
    #expect(try runner.rolloutInputs(byHash) == inputs)
    #expect(try runner.rolloutInputs(GenerationRequest(prompt: "Hi")).imageRows == nil)
  }

  /// Sampled at temperature 1 (as PPO's rollouts are) in one batch with a base-model request
  /// and a text-only one: each rollout's log-probs are still the training forward's.
  @Test func sampledRolloutsInAMixedBatchMatchTraining() async throws {
    let runner = try Self.runner()
    let weights = runner.model.weights
    let training = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(rank: 4, alpha: 8)
    )
    let set = try training.makeParameters(
      from: try DecoderAdapter(directory: AdapterFixtures.peft, base: weights)
    )
    try runner.registerInternal(id: "live-2", parent: "base", adapter: try training.adapter(set))
    func rollout(_ prompt: String, images: [GenerationImage], seed: UInt64) -> GenerationRequest {
      var request = GenerationRequest(prompt: prompt)
      request.images = images
      request.policyVersion = "live-2"
      request.priority = .batch
      request.sampling.temperature = 1
      request.sampling.seed = seed
      request.sampling.maxNewTokens = 12
      request.sampling.logprobs = true
      return request
    }
    let png = try RunnerFixtures.image("tall_40x90.png")
    let requests = [
      rollout("Describe the picture.", images: [.data(png)], seed: 7),
      rollout("Tell me a story.", images: [], seed: 8),
    ]
    var base = GenerationRequest(prompt: "Describe the picture.")
    base.images = [.data(png)]
    base.sampling.maxNewTokens = 12
    async let other = collect(base, runner: runner)
    async let first = collect(requests[0], runner: runner)
    async let second = collect(requests[1], runner: runner)
    let results = try await [first.result, second.result]
    #expect(try await other.result.policyVersion == "base")
    var worst: Float = 0
    for (request, result) in zip(requests, results) {
      let inputs = try runner.rolloutInputs(request)
      let tokens = inputs.query + result.tokenIds
      let acts = try training.forward(
        tokens: tokens,
        imageEmbeddings: inputs.imageRows,
        parameters: set
      )
      let head = try training.policyHead(
        acts,
        tokens: tokens,
        targets: Array(inputs.query.count..<tokens.count)
      )
      let logprobs = try #require(result.logprobs)
      #expect(logprobs.count == head.logProbs.count && !logprobs.isEmpty)
      worst = max(worst, zip(head.logProbs, logprobs).map { abs($0 - $1) }.max() ?? .infinity)
    }
    print("sampled rollouts vs training log-probs: max |Δ| \(worst)")
    #expect(worst <= 1e-4)
  }

  @Test func theInputsOfABadRequestAreRefusedAsGenerateRefusesThem() throws {
    let runner = RunnerFixtures.runner
    var request = GenerationRequest(prompt: "Look")
    request.images = [.sha256(String(repeating: "ab", count: 32))]
    expectBackend(.notFound) { _ = try runner.rolloutInputs(request) }
    request.images = [.data([1, 2, 3])]
    expectBackend(.invalidArgument) { _ = try runner.rolloutInputs(request) }
  }
}
