import Foundation
import Models
import Testing

struct SamplerTests {
  /// Logits of a fixed random distribution over `V` tokens.
  static func logits(_ V: Int = 50, seed: UInt64 = 7) -> [Float] {
    var generator = Xoshiro256StarStar(seed: seed)
    return (0..<V).map { _ in Float.random(in: -3...3, using: &generator) }
  }

  static func draw(_ parameters: SamplingParameters, _ logits: [Float], _ n: Int) -> [Int32] {
    var sampler = Sampler(parameters)
    return (0..<n).map { _ in sampler.sample(logits: logits).token }
  }

  @Test func temperatureZeroIsGreedy() {
    let x = Self.logits()
    let best = Int32(LlavaModel.argmax(x))
    #expect(Self.draw(.greedy, x, 20).allSatisfy { $0 == best })
    var sampler = Sampler(.greedy)
    let sampled = sampler.sample(logits: x)
    let expected = Double(x[Int(best)]) - log(x.map { exp(Double($0)) }.reduce(0, +))
    #expect(abs(Double(sampled.logprob) - expected) < 1e-5)
  }

  @Test(arguments: [UInt64(1), 2, 3])
  func topKOneAndTinyTopPAreGreedy(_ seed: UInt64) {
    let x = Self.logits()
    let best = Int32(LlavaModel.argmax(x))
    let topK = SamplingParameters(temperature: 1.3, topK: 1, seed: seed)
    let topP = SamplingParameters(temperature: 0.7, topP: 1e-6, seed: seed)
    #expect(Self.draw(topK, x, 50).allSatisfy { $0 == best })
    #expect(Self.draw(topP, x, 50).allSatisfy { $0 == best })
    // The log-probability is the model's (temperature 1, no filtering), not the filtered one.
    var sampler = Sampler(topK)
    #expect(abs(Double(sampler.sample(logits: x).logprob) - Self.logSoftmax(x, Int(best))) < 1e-5)
  }

  /// `log softmax(x)[index]` in Double.
  static func logSoftmax(_ x: [Float], _ index: Int) -> Double {
    Double(x[index]) - log(x.map { exp(Double($0)) }.reduce(0, +))
  }

  @Test(arguments: [Float(1e-45), 1e-38, 1e-30, 1e-6])
  func tinyTemperatureIsGreedyWithTheModelsLogprob(_ temperature: Float) {
    let x = Self.logits(32000, seed: 11).map { $0 * 10 }
    let best = LlavaModel.argmax(x)
    var sampler = Sampler(SamplingParameters(temperature: temperature, seed: 5))
    for _ in 0..<20 {
      let sampled = sampler.sample(logits: x)
      #expect(sampled.token == Int32(best))
      #expect(sampled.logprob.isFinite)
      #expect(abs(Double(sampled.logprob) - Self.logSoftmax(x, best)) < 1e-4)
    }
  }

  @Test func tiedMaximaAtATinyTemperatureDrawAmongTheTies() {
    let x: [Float] = [-1, 5, 2, 5]
    let tokens = Self.draw(SamplingParameters(temperature: 1e-40, seed: 3), x, 400)
    #expect(tokens.allSatisfy { $0 == 1 || $0 == 3 })
    #expect(tokens.contains(1) && tokens.contains(3))
  }

  @Test func logprobIgnoresPenaltyAndFiltering() {
    let x = Self.logits()
    let parameters = SamplingParameters(
      temperature: 0.5,
      topK: 5,
      topP: 0.5,
      repetitionPenalty: 1.7,
      seed: 8
    )
    var sampler = Sampler(parameters)
    for _ in 0..<50 {
      let sampled = sampler.sample(logits: x, history: [0, 1, 2, 3])
      #expect(abs(Double(sampled.logprob) - Self.logSoftmax(x, Int(sampled.token))) < 1e-5)
    }
    var greedy = Sampler(SamplingParameters(temperature: 0, repetitionPenalty: 2))
    let penalised = greedy.sample(logits: [2, 1.5, -1], history: [0])
    #expect(penalised.token == 1)
    #expect(abs(Double(penalised.logprob) - Self.logSoftmax([2, 1.5, -1], 1)) < 1e-6)
  }

  @Test func sameSeedSameTokens() {
    let x = Self.logits()
    let parameters = SamplingParameters(temperature: 1, topK: 20, topP: 0.9, seed: 42)
    #expect(Self.draw(parameters, x, 100) == Self.draw(parameters, x, 100))
    var other = parameters
    other.seed = 43
    #expect(Self.draw(parameters, x, 100) != Self.draw(other, x, 100))
  }

  @Test func frequenciesFollowTheDistribution() {
    let probabilities: [Float] = [0.5, 0.3, 0.15, 0.05]
    let x = probabilities.map { Float(log(Double($0))) }
    let n = 20_000
    let tokens = Self.draw(SamplingParameters(seed: 2024), x, n)
    for (token, p) in probabilities.enumerated() {
      let frequency = Float(tokens.filter { $0 == token }.count) / Float(n)
      #expect(abs(frequency - p) < 0.015, "token \(token): \(frequency) vs \(p)")
    }
    // top-k 2 renormalises over the two survivors: 0.5 / 0.8 and 0.3 / 0.8.
    let topTwo = Self.draw(SamplingParameters(topK: 2, seed: 9), x, n)
    #expect(topTwo.allSatisfy { $0 < 2 })
    let first = Float(topTwo.filter { $0 == 0 }.count) / Float(n)
    #expect(abs(first - 0.625) < 0.015)
    // top-p 0.75 keeps {0, 1} (0.5 + 0.3 reaches it); top-p 0.85 adds token 2.
    #expect(Self.draw(SamplingParameters(topP: 0.75, seed: 5), x, 2000).allSatisfy { $0 < 2 })
    #expect(Self.draw(SamplingParameters(topP: 0.85, seed: 5), x, 2000).contains(2))
    var sampler = Sampler(SamplingParameters(topK: 2, seed: 1))
    let sampled = sampler.sample(logits: x)
    let expected = log(Double(probabilities[Int(sampled.token)]))
    #expect(abs(Double(sampled.logprob) - expected) < 1e-5)
  }

  @Test func temperatureSharpensAndFlattens() {
    let x: [Float] = [1, 0]
    let n = 10_000
    let cold = Self.draw(SamplingParameters(temperature: 0.25, seed: 3), x, n)
    let hot = Self.draw(SamplingParameters(temperature: 4, seed: 3), x, n)
    let coldFirst = Double(cold.filter { $0 == 0 }.count) / Double(n)
    let hotFirst = Double(hot.filter { $0 == 0 }.count) / Double(n)
    #expect(abs(coldFirst - 1 / (1 + exp(-4))) < 0.015)
    #expect(abs(hotFirst - 1 / (1 + exp(-0.25))) < 0.015)
  }

  @Test func repetitionPenaltyDividesPositiveAndMultipliesNegative() {
    // Token 0 leads (2 vs 1.5); penalised by 2 it falls to 1 and token 1 wins.
    var sampler = Sampler(SamplingParameters(temperature: 0, repetitionPenalty: 2))
    #expect(sampler.sample(logits: [2, 1.5, -1], history: [0, 0]).token == 1)
    // A negative logit is multiplied: -0.1 · 2 = -0.2 falls below -0.15.
    #expect(sampler.sample(logits: [-0.1, -0.15], history: [0]).token == 1)
    #expect(sampler.sample(logits: [-0.1, -0.15]).token == 0)
  }
}
