// The whole tiny model's LoRA gradients against torch autograd + PEFT (float64,
// tools/reference/make_model_grad_fixtures.py): the policy's log-probs, entropies and every LoRA
// gradient of Σ dLogProb·logProb + dEntropy·entropy; the reward model's values and every LoRA and
// head gradient of Σ dValue·value. Each tensor within 1e-4 of its largest element. And the
// training forward's log-probs equal the serving forward's (PPO's ratio is 1 at the start).
import Checkpoints
import Engine
import Foundation
import Testing

@testable import Models

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct TrainingTorchTests {
  static let file = Fixtures.path("training/model-grads.safetensors")

  static func info() throws -> [String: Any] {
    let data = try Data(
      contentsOf: URL(fileURLWithPath: Fixtures.path("training/model-grads.json"))
    )
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  static func tensor(_ name: String) throws -> [Float] {
    try SafeTensorsFile(path: file).tensor(name).floats()
  }

  /// max |a − b| / max |b|.
  static func relative(_ a: [Float], _ b: [Float]) -> Float {
    maxAbsDiff(a, b) / max(b.map(abs).max() ?? 0, 1e-12)
  }

  /// Every LoRA gradient of `set` against `<prefix>.grad.<segment name>`; returns the worst.
  static func worstLoRAGradient(
    _ training: DecoderTraining,
    _ set: borrowing TrainableParameters,
    prefix: String
  ) throws -> Float {
    var worst: Float = 0
    for (_, _, s) in training.trainables.adapted {
      for segment in [s.a, s.b] {
        let got = Array(UnsafeBufferPointer(start: set.gradients(segment), count: segment.count))
        worst = max(worst, relative(got, try tensor("\(prefix).grad.\(segment.name)")))
      }
    }
    return worst
  }

  @Test func policyGradientsEqualTorch() throws {
    let weights = try Fixtures.policy.get()
    let adapter = try LoRAFixtures.adapter("adapter-a", base: weights)
    let training = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(rank: 4, alpha: 8)
    )
    let set = try training.makeParameters(from: adapter)
    let policy = try #require(try Self.info()["policy"] as? [String: Any])
    let tokens = Fixtures.ints(policy["tokens"])
    let targets = Fixtures.ints(policy["targets"]).map(Int.init)
    let acts = try training.forward(
      tokens: tokens,
      imageEmbeddings: try Self.tensor("policy.image_embeddings"),
      parameters: set
    )
    let head = try training.policyHead(acts, tokens: tokens, targets: targets)
    let logProbDelta = maxAbsDiff(head.logProbs, try Self.tensor("policy.logprobs"))
    let entropyDelta = maxAbsDiff(head.entropies, try Self.tensor("policy.entropies"))
    set.zeroGradients()
    let dHidden = try training.policyHeadBackward(
      acts,
      head: head,
      dLogProb: try Self.tensor("policy.d_logprob"),
      dEntropy: try Self.tensor("policy.d_entropy")
    )
    training.backward(acts, dHidden: dHidden, parameters: set)
    let worst = try Self.worstLoRAGradient(training, set, prefix: "policy")
    print(
      "policy vs torch: |Δ logprob| \(logProbDelta), |Δ entropy| \(entropyDelta), grads rel \(worst)"
    )
    #expect(logProbDelta < 1e-5 && entropyDelta < 1e-5)
    #expect(worst <= 1e-4)
  }

  @Test func rewardGradientsEqualTorch() throws {
    let weights = try LlavaWeights(directory: Fixtures.path("tiny-llava-reward"))
    let training = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(rank: 4, alpha: 8),
      head: .checkpoint
    )
    let pairs = try training.trainables.adapted.map { l, linear, s in
      DecoderAdapter.Pair(
        layer: l,
        linear: linear,
        a: try Self.tensor("reward.lora.\(s.a.name)"),
        b: try Self.tensor("reward.lora.\(s.b.name)")
      )
    }
    let adapter = try DecoderAdapter(
      config: training.trainables.settings.adapterConfig,
      pairs: pairs,
      base: weights,
      dtype: .f32
    )
    let set = try training.makeParameters(from: adapter)
    let reward = try #require(try Self.info()["reward"] as? [String: Any])
    let tokens = Fixtures.ints(reward["tokens"])
    let rows = Fixtures.ints(reward["rows"]).map(Int.init)
    let acts = try training.forward(
      tokens: tokens,
      imageEmbeddings: try Self.tensor("reward.image_embeddings"),
      parameters: set
    )
    let values = try training.values(acts, rows: rows, parameters: set)
    let valueDelta = maxAbsDiff(values, try Self.tensor("reward.values"))
    set.zeroGradients()
    let dHidden = try training.valuesBackward(
      acts,
      rows: rows,
      dValue: try Self.tensor("reward.d_value"),
      parameters: set
    )
    training.backward(acts, dHidden: dHidden, parameters: set)
    let head = try #require(training.trainables.head)
    let headGradient = Array(UnsafeBufferPointer(start: set.gradients(head), count: head.count))
    let headWorst = Self.relative(headGradient, try Self.tensor("reward.grad.score.weight"))
    let worst = try Self.worstLoRAGradient(training, set, prefix: "reward")
    print(
      "reward vs torch: |Δ value| \(valueDelta), head grad rel \(headWorst), LoRA grads rel \(worst)"
    )
    #expect(valueDelta < 1e-5)
    #expect(headWorst <= 1e-4 && worst <= 1e-4)
    // The last row's value is the reward model's score of the whole sequence (serving path).
    let score = try RewardModel(weights: weights).score(
      tokens: tokens,
      imageEmbeddings: try Self.tensor("reward.image_embeddings"),
      adapter: try training.adapter(set)
    )
    #expect(abs(score - values.last!) < 1e-5)
  }

  /// The training forward's log-probs equal the log-softmax of the serving forward's logits for
  /// the same tokens and adapter (fp32, 1e-5).
  @Test func trainingLogProbsEqualServing() throws {
    let weights = try Fixtures.policy.get()
    let training = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(rank: 4, alpha: 8)
    )
    let set = try training.makeParameters(seed: 5)
    TrainingSupport.randomize(set, seed: 21)
    let policy = try #require(try Self.info()["policy"] as? [String: Any])
    let tokens = Fixtures.ints(policy["tokens"])
    let targets = Fixtures.ints(policy["targets"]).map(Int.init)
    let image = try Self.tensor("policy.image_embeddings")
    let acts = try training.forward(tokens: tokens, imageEmbeddings: image, parameters: set)
    let head = try training.policyHead(acts, tokens: tokens, targets: targets)
    let model = LanguageModel(weights: weights)
    var cache = model.makeCache(capacity: tokens.count)
    let logits = try model.forward(
      tokens: tokens,
      imageEmbeddings: image,
      cache: &cache,
      adapter: try training.adapter(set),
      allPositions: true
    )  // (T, V)
    let V = logits.count / tokens.count
    var worst = 0.0
    for (i, p) in targets.enumerated() {
      let row = logits[((p - 1) * V)..<(p * V)].map(Double.init)
      let maximum = row.max()!
      let lse = maximum + log(row.reduce(0) { $0 + exp($1 - maximum) })
      worst = max(worst, abs(row[Int(tokens[p])] - lse - Double(head.logProbs[i])))
    }
    print("training vs serving log-probs: max |Δ| \(worst)")
    #expect(worst < 1e-5)
  }
}

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct TrainingRolloutTests {
  /// As a rollout computes them: the prompt prefilled, then one decode step per response token
  /// (GEMV-sized products, KV cache) — the training forward's log-probs agree to 1e-5 (PPO's
  /// ratio is 1 at the first minibatch).
  @Test func trainingLogProbsEqualDecodeSteps() throws {
    let weights = try Fixtures.policy.get()
    let training = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(rank: 4, alpha: 8)
    )
    let set = try training.makeParameters(seed: 5)
    TrainingSupport.randomize(set, seed: 22)
    let tokens = TrainingSupport.tokens(T: 20, imageRows: 3, seed: 23)
    let image = TrainingSupport.values(3 * 64, scale: 0.05, seed: 24)
    let prompt = 8
    let targets = Array(prompt..<tokens.count)
    let acts = try training.forward(tokens: tokens, imageEmbeddings: image, parameters: set)
    let head = try training.policyHead(acts, tokens: tokens, targets: targets)
    let model = LanguageModel(weights: weights)
    let adapter = try training.adapter(set)
    var cache = model.makeCache(capacity: tokens.count)
    var logits = try model.forward(
      tokens: Array(tokens[..<prompt]),
      imageEmbeddings: image,
      cache: &cache,
      adapter: adapter
    )  // (V) predicting tokens[prompt]
    var worst = 0.0
    for (i, p) in targets.enumerated() {
      let row = logits.map(Double.init)
      let maximum = row.max()!
      let lse = maximum + log(row.reduce(0) { $0 + exp($1 - maximum) })
      worst = max(worst, abs(row[Int(tokens[p])] - lse - Double(head.logProbs[i])))
      logits = try model.forward(tokens: [tokens[p]], cache: &cache, adapter: adapter)
    }
    print("training vs decode-step log-probs: max |Δ| \(worst)")
    #expect(worst < 1e-5)
  }
}

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct TrainingInputTests {
  /// Inputs that do not fit are errors with a message, not traps.
  @Test func badInputsAreErrors() throws {
    let weights = try Fixtures.policy.get()
    let training = try DecoderTraining(weights: weights, lora: DecoderLoRASettings(rank: 2))
    let other = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(targets: [.q], rank: 2)
    )
    let tokens: [Int32] = [1, 30, 40, 50]
    #expect(throws: ModelError.self) {
      _ = try training.forward(tokens: tokens, parameters: try other.makeParameters())
    }
    let set = try training.makeParameters()
    #expect(throws: ModelError.self) {
      _ = try training.forward(tokens: [1, 640], parameters: set)  // an image token, no rows
    }
    let acts = try training.forward(tokens: tokens, parameters: set)
    #expect(throws: ModelError.self) {
      _ = try training.policyHead(acts, tokens: tokens, targets: [0])
    }
    #expect(throws: ModelError.self) { _ = try training.values(acts, rows: [1], parameters: set) }
    let head = try training.policyHead(acts, tokens: tokens, targets: [2, 3])
    #expect(throws: ModelError.self) {
      _ = try training.policyHeadBackward(acts, head: head, dLogProb: [1], dEntropy: [1, 1])
    }
    #expect(throws: ModelError.self) {
      _ = try DecoderTraining(
        weights: weights,
        lora: DecoderLoRASettings(rank: 2),
        head: .checkpoint
      )
    }
    // Fresh parameters: B = 0, so the adapter is the identity and the log-probs are the base's.
    let base = LanguageModel(weights: weights)
    var cache = base.makeCache(capacity: tokens.count)
    let logits = try base.forward(tokens: tokens, cache: &cache, allPositions: true)
    let V = logits.count / tokens.count
    let row = Array(logits[V..<(2 * V)]).map(Double.init)
    let lse = row.max()! + log(row.reduce(0) { $0 + exp($1 - row.max()!) })
    #expect(abs(row[Int(tokens[2])] - lse - Double(head.logProbs[0])) < 1e-5)
  }
}
