// The decoder's training pieces against central differences on the tiny random policy and
// reward checkpoints (fp32, so differences of 1e-2 steps and a few percent of tolerance): the
// log-prob/entropy head, the value head, one layer, the whole model (with LoRA dropout and
// attention recomputed), and keeping vs recomputing attention.
import Engine
import Testing

@testable import Models

@Suite(.enabled(if: Fixtures.present, "Tests/Fixtures is absent"))
struct TrainingGradientTests {
  static let T = 14
  static let targets = Array(6..<14)

  static func policyTraining(dropout: Float = 0, keepAttention: Bool = true) throws
    -> DecoderTraining
  {
    try DecoderTraining(
      weights: try Fixtures.policy.get(),
      lora: DecoderLoRASettings(rank: 3, alpha: 6, dropout: dropout),
      keepAttention: keepAttention
    )
  }

  /// Σ cLP · logProb + cH · entropy over the targets, and its dHidden.
  static func policyLoss(
    _ training: DecoderTraining,
    _ acts: borrowing TrainingActivations,
    tokens: [Int32]
  ) throws -> (loss: Double, dHidden: [Float]) {
    let head = try training.policyHead(acts, tokens: tokens, targets: targets)
    let cLP = TrainingSupport.values(targets.count, scale: 1, seed: 5)
    let cH = TrainingSupport.values(targets.count, scale: 1, seed: 6)
    var loss = 0.0
    for i in targets.indices {
      loss += Double(cLP[i] * head.logProbs[i] + cH[i] * head.entropies[i])
    }
    let dHidden = try training.policyHeadBackward(acts, head: head, dLogProb: cLP, dEntropy: cH)
    return (loss, dHidden)
  }

  @Test func policyHeadMatchesFiniteDifferences() throws {
    let training = try Self.policyTraining()
    let set = try training.makeParameters(seed: 1)
    let tokens = TrainingSupport.tokens(T: Self.T, imageRows: 0, seed: 3)
    let acts = try training.forward(tokens: tokens, parameters: set)
    let dHidden = try Self.policyLoss(training, acts, tokens: tokens).dHidden
    let C = 64
    var worst: Float = 0
    for (row, c) in [(5, 0), (5, 17), (9, 3), (12, 63), (13, 8)] {
      let index = row * C + c
      let saved = acts.lnf[index]
      acts.lnf[index] = saved + 1e-2
      let plus = try Self.policyLoss(training, acts, tokens: tokens).loss
      acts.lnf[index] = saved - 1e-2
      let minus = try Self.policyLoss(training, acts, tokens: tokens).loss
      acts.lnf[index] = saved
      let numeric = Float((plus - minus) / 2e-2)
      worst = max(worst, abs(numeric - dHidden[index]) / max(abs(dHidden[index]), 1e-2))
    }
    // Row 13 predicts nothing: its gradient is exactly zero.
    #expect(dHidden[(13 * C)..<(14 * C)].allSatisfy { $0 == 0 })
    print("policy head: worst relative error \(worst)")
    #expect(worst < 1e-2)
  }

  @Test func valueHeadMatchesFiniteDifferences() throws {
    let weights = try LlavaWeights(directory: Fixtures.path("tiny-llava-reward"))
    let training = try DecoderTraining(
      weights: weights,
      lora: DecoderLoRASettings(rank: 2),
      head: .zero(bias: true)
    )
    let set = try training.makeParameters(seed: 1)
    TrainingSupport.randomize(set, seed: 4)
    let tokens = TrainingSupport.tokens(T: Self.T, imageRows: 2, seed: 3)
    let image = TrainingSupport.values(2 * 64, scale: 0.05, seed: 8)
    let rows = [5, 9, 13]
    let dValue: [Float] = [0.7, -1.3, 0.4]
    func loss(_ set: borrowing TrainableParameters) throws -> Double {
      let acts = try training.forward(tokens: tokens, imageEmbeddings: image, parameters: set)
      let values = try training.values(acts, rows: rows, parameters: set)
      return zip(values, dValue).reduce(0) { $0 + Double($1.0 * $1.1) }
    }
    set.zeroGradients()
    let acts = try training.forward(tokens: tokens, imageEmbeddings: image, parameters: set)
    let dHidden = try training.valuesBackward(acts, rows: rows, dValue: dValue, parameters: set)
    training.backward(acts, dHidden: dHidden, parameters: set)
    let head = try #require(training.trainables.head)
    let bias = try #require(training.trainables.headBias)
    #expect(abs(set.gradients(bias)[0] - dValue.reduce(0, +)) < 1e-6)
    let worstHead = try TrainingSupport.worstRelativeError(set, segment: head, loss: loss)
    let down = try #require(training.trainables.segments(layer: 0, .down))
    let worstLoRA = try TrainingSupport.worstRelativeError(set, segment: down.a, loss: loss)
    print("value head: worst relative error head \(worstHead), layer 0 down A \(worstLoRA)")
    #expect(worstHead < 1e-2 && worstLoRA < 1e-2)
  }

  @Test func oneLayerMatchesFiniteDifferences() throws {
    let training = try Self.policyTraining()
    let set = try training.makeParameters(seed: 1)
    TrainingSupport.randomize(set, seed: 9)
    let tokens = TrainingSupport.tokens(T: Self.T, imageRows: 0, seed: 3)
    let acts = try training.forward(tokens: tokens, parameters: set)
    let C = 64
    let g = TrainingSupport.values(Self.T * C, scale: 1, seed: 10)  // ∂loss/∂stream(1)
    let positions = (0..<Self.T).map { Int32($0) }
    func loss(_ set: borrowing TrainableParameters) -> Double {
      training.layerForward(0, acts: acts, positions: positions, set: set)
      var sum = 0.0
      for i in g.indices { sum += Double(g[i] * acts.stream(1)[i]) }
      return sum
    }
    set.zeroGradients()
    let scratch = BackwardScratch(training.shape(T: Self.T), recompute: false)
    g.withUnsafeBufferPointer { scratch.dy.update(from: $0.baseAddress!, count: g.count) }
    training.layerBackward(0, acts: acts, positions: positions, set: set, scratch: scratch)
    var worst = 0.0
    for linear in DecoderLinear.allCases {
      let s = try #require(training.trainables.segments(layer: 0, linear))
      worst = max(
        worst,
        TrainingSupport.worstRelativeError(set, segment: s.a, picks: 2, loss: loss)
      )
      worst = max(
        worst,
        TrainingSupport.worstRelativeError(set, segment: s.b, picks: 2, loss: loss)
      )
    }
    print("one layer: worst relative error \(worst)")
    #expect(worst < 1e-2)
  }

  @Test(arguments: [false, true])
  func wholeModelMatchesFiniteDifferences(dropout: Bool) throws {
    let training = try Self.policyTraining(dropout: dropout ? 0.2 : 0, keepAttention: false)
    let set = try training.makeParameters(seed: 1)
    TrainingSupport.randomize(set, seed: 11)
    let tokens = TrainingSupport.tokens(T: Self.T, imageRows: 3, seed: 3)
    let image = TrainingSupport.values(3 * 64, scale: 0.05, seed: 12)
    func loss(_ set: borrowing TrainableParameters) throws -> Double {
      let acts = try training.forward(
        tokens: tokens,
        imageEmbeddings: image,
        parameters: set,
        dropoutSeed: 77
      )
      return try Self.policyLoss(training, acts, tokens: tokens).loss
    }
    set.zeroGradients()
    let acts = try training.forward(
      tokens: tokens,
      imageEmbeddings: image,
      parameters: set,
      dropoutSeed: 77
    )
    training.backward(
      acts,
      dHidden: try Self.policyLoss(training, acts, tokens: tokens).dHidden,
      parameters: set
    )
    var worst = 0.0
    for (l, linear) in [
      (0, DecoderLinear.q), (0, .k), (0, .v), (1, .o), (0, .gate), (1, .up), (0, .down),
    ] {
      let s = try #require(training.trainables.segments(layer: l, linear))
      worst = max(
        worst,
        try TrainingSupport.worstRelativeError(set, segment: s.a, picks: 2, loss: loss)
      )
      worst = max(
        worst,
        try TrainingSupport.worstRelativeError(set, segment: s.b, picks: 2, loss: loss)
      )
    }
    print("whole model (dropout \(dropout)): worst relative error \(worst)")
    #expect(worst < 1e-2)
    // Dropout changes the pass only when it is on and seeded.
    let undropped = try Self.policyLoss(
      training,
      try training.forward(tokens: tokens, imageEmbeddings: image, parameters: set),
      tokens: tokens
    ).loss
    #expect((undropped != (try loss(set))) == dropout)
  }

  /// Recomputing attention per layer gives the same gradients as keeping it.
  @Test func recomputedAttentionEqualsKept() throws {
    let tokens = TrainingSupport.tokens(T: Self.T, imageRows: 0, seed: 3)
    var gradients: [[Float]] = []
    for keep in [true, false] {
      let training = try Self.policyTraining(keepAttention: keep)
      let set = try training.makeParameters(seed: 1)
      TrainingSupport.randomize(set, seed: 13)
      let acts = try training.forward(tokens: tokens, parameters: set)
      #expect(acts.keepsAttention == keep)
      training.backward(
        acts,
        dHidden: try Self.policyLoss(training, acts, tokens: tokens).dHidden,
        parameters: set
      )
      gradients.append(Array(set.gradients.buffer))
    }
    #expect(gradients[0] == gradients[1])
    #expect(gradients[0].contains { $0 != 0 })
  }

  /// The mask drops about `p` of the elements, scales the rest by 1 / (1 − p), depends on the
  /// seed, and is the same when regenerated.
  @Test func dropoutMaskIsSeededAndUnbiased() {
    let (T, K) = (32, 64)
    let x = [Float](repeating: 1, count: T * K)
    func mask(seed: UInt64, linear: DecoderLinear) -> [Float] {
      var (m, dropped) = ([Float](repeating: 0, count: T * K), [Float](repeating: 0, count: T * K))
      LoRADropout(probability: 0.25, seed: seed).apply(
        layer: 1,
        linear: linear,
        x: x,
        mask: &m,
        dropped: &dropped,
        T: T,
        K: K
      )
      #expect(m == dropped)
      return m
    }
    let m = mask(seed: 3, linear: .q)
    let zeros = Double(m.filter { $0 == 0 }.count) / Double(m.count)
    #expect(abs(zeros - 0.25) < 0.03)
    #expect(m.allSatisfy { $0 == 0 || $0 == Float(1) / 0.75 })
    #expect(m == mask(seed: 3, linear: .q))
    #expect(m != mask(seed: 4, linear: .q))
    #expect(m != mask(seed: 3, linear: .k))
  }
}
