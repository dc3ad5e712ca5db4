// Token sampling from one position's logits, in transformers' processor order: repetition
// penalty (CTRL: over every distinct token seen so far, positive logits divided by the penalty,
// negative ones multiplied) → temperature → top-k → top-p → a draw from the renormalised
// distribution with a seeded generator. Temperature 0 is greedy (argmax after the penalty,
// first index on ties). Logits are shifted by their maximum before they are divided by the
// temperature, so a tiny positive temperature tends to greedy (the non-maximal weights
// underflow to 0) and never overflows into inf − inf = NaN.
//
// The returned log-probability is the API's contract, whatever the sampling parameters:
// `log softmax(logits)[token]` of the model's raw logits (temperature 1, before penalties and
// filtering), the number PPO compares with the trainer's.
//
// Design note (no benchmark needed): the cost per token is one pass over V logits plus a sort
// of the candidates: O(V log V) only when top-p is active without top-k, otherwise the sort is
// over the k survivors. At V = 32000 that is well under a millisecond, small next to a decode
// step, so the sampler keeps plain arrays and a full sort rather than a partial selection.
// Randomness comes only from `Xoshiro256StarStar` seeded by the request's 64-bit seed, and the
// candidate order is fixed (logit descending, then token id), so the same seed and logits give
// the same tokens on every machine.
import Glibc

/// How to pick the next token.
public struct SamplingParameters: Sendable, Equatable {
  /// 0 = greedy; otherwise logits are divided by it.
  public var temperature: Float
  /// Keep the `topK` most likely tokens (ties at the boundary kept); 0 = off.
  public var topK: Int
  /// Keep the smallest most-likely set whose probability reaches `topP`; 1 = off.
  public var topP: Float
  /// CTRL repetition penalty; 1 = off.
  public var repetitionPenalty: Float
  /// Seed of the generator: the same seed gives the same tokens.
  public var seed: UInt64

  public init(
    temperature: Float = 1,
    topK: Int = 0,
    topP: Float = 1,
    repetitionPenalty: Float = 1,
    seed: UInt64 = 0
  ) {
    self.temperature = temperature
    self.topK = topK
    self.topP = topP
    self.repetitionPenalty = repetitionPenalty
    self.seed = seed
  }

  public static let greedy = SamplingParameters(temperature: 0)
}

/// One sampled token and its log-probability under the model: the raw logits' softmax at
/// temperature 1, before penalties and filtering.
public struct SampledToken: Sendable, Equatable {
  public var token: Int32
  public var logprob: Float
}

/// Picks tokens for one sequence; holds the generator state between steps.
public struct Sampler: Sendable {
  public let parameters: SamplingParameters
  private var generator: Xoshiro256StarStar

  public init(_ parameters: SamplingParameters) {
    self.parameters = parameters
    generator = Xoshiro256StarStar(seed: parameters.seed)
  }

  /// Samples from `logits` `(V)`; `history` holds the tokens the penalty applies to (the
  /// prompt and the tokens generated so far, as transformers does).
  public mutating func sample(logits: [Float], history: [Int32] = []) -> SampledToken {
    let token = pick(logits: logits, history: history)
    return SampledToken(token: Int32(token), logprob: Self.logSoftmax(logits, at: token))
  }

  /// The index drawn from the processed distribution.
  private mutating func pick(logits: [Float], history: [Int32]) -> Int {
    var x = logits
    let penalty = parameters.repetitionPenalty
    if penalty != 1 {
      for token in Set(history) where token >= 0 && Int(token) < x.count {
        let value = x[Int(token)]
        x[Int(token)] = value > 0 ? value / penalty : value * penalty
      }
    }
    if parameters.temperature <= 0 { return LlavaModel.argmax(x) }
    // Shifted so that the best candidate is 0 before dividing: finite for any temperature > 0.
    let best = x[LlavaModel.argmax(x)]
    for i in x.indices { x[i] = (x[i] - best) / parameters.temperature }
    // Candidates, most likely first (ties by token id): a fixed order for the draw.
    var order = Array(x.indices)
    order.sort { x[$0] > x[$1] || (x[$0] == x[$1] && $0 < $1) }
    if parameters.topK > 0 && parameters.topK < order.count {
      let threshold = x[order[parameters.topK - 1]]
      order = order.filter { x[$0] >= threshold }
    }
    var probabilities = order.map { expf(x[$0]) }
    var total = probabilities.reduce(0, +)
    if parameters.topP < 1 {
      var cumulative: Float = 0
      var keep = 0
      while keep < probabilities.count {
        cumulative += probabilities[keep] / total
        keep += 1
        if cumulative >= parameters.topP { break }
      }
      order.removeSubrange(keep...)
      probabilities.removeSubrange(keep...)
      total = probabilities.reduce(0, +)
    }
    let u = Float(Double(generator.next() >> 11) * 0x1p-53) * total
    var cumulative: Float = 0
    for i in order.indices {
      cumulative += probabilities[i]
      if u < cumulative { return order[i] }
    }
    // u rounds up to the total: the last candidate with any weight.
    return order[probabilities.lastIndex { $0 > 0 } ?? 0]
  }

  /// `log softmax(x)[index]`, stable.
  static func logSoftmax(_ x: [Float], at index: Int) -> Float {
    let maximum = x.max() ?? 0
    var sum: Float = 0
    for value in x { sum += expf(value - maximum) }
    return x[index] - maximum - logf(sum)
  }
}

/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64 from one 64-bit seed.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
  private var s: (UInt64, UInt64, UInt64, UInt64)

  public init(seed: UInt64) {
    var z = seed
    func splitMix() -> UInt64 {
      z &+= 0x9E37_79B9_7F4A_7C15
      var r = z
      r = (r ^ (r >> 30)) &* 0xBF58_476D_1CE4_E5B9
      r = (r ^ (r >> 27)) &* 0x94D0_49BB_1331_11EB
      return r ^ (r >> 31)
    }
    s = (splitMix(), splitMix(), splitMix(), splitMix())
  }

  public mutating func next() -> UInt64 {
    let result = rotl(s.1 &* 5, 7) &* 9
    let t = s.1 << 17
    s.2 ^= s.0
    s.3 ^= s.1
    s.1 ^= s.2
    s.0 ^= s.3
    s.2 ^= t
    s.3 = rotl(s.3, 45)
    return result
  }

  private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
