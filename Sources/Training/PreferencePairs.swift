// Reward-model training data from live feedback (issue 13 §2): preference pairs from ratings, the
// held-out split by prompt, and the seeded caption shuffle of the factual prompt
// (research/rlhf-spec.md §2: "the fact list randomly shuffled for each example").
import Models
import Serving

/// One rated generation (the last rating counts when a generation was rated more than once).
public struct RatedGeneration: Sendable, Equatable {
  /// What makes two generations answers to the same prompt (e.g. prompt text + image digest).
  public var promptID: String
  public var generationID: String
  public var score: Float

  public init(promptID: String, generationID: String, score: Float) {
    self.promptID = promptID
    self.generationID = generationID
    self.score = score
  }
}

/// Two answers to one prompt and which is better (the spec's r₁ / r₂ and `preference`).
public struct PreferencePair: Sendable, Equatable {
  public var promptID: String
  public var first: String
  public var second: String
  public var secondPreferred: Bool

  public init(promptID: String, first: String, second: String, secondPreferred: Bool) {
    self.promptID = promptID
    self.first = first
    self.second = second
    self.secondPreferred = secondPreferred
  }
}

public enum PreferencePairs {
  /// Every pair of differently rated generations of one prompt (ties skipped): for k rated
  /// generations up to k(k−1)/2 pairs. Deterministic: prompts in order of first appearance,
  /// generations in input order (give them oldest first), `first` the earlier of the two — so
  /// the preferred side is not always the same (a tie-biased accuracy stays honest).
  public static func fromRatings(_ ratings: [RatedGeneration]) -> [PreferencePair] {
    var prompts: [String] = []
    var byPrompt: [String: [(id: String, score: Float)]] = [:]
    for rating in ratings {
      if byPrompt[rating.promptID] == nil { prompts.append(rating.promptID) }
      var list = byPrompt[rating.promptID, default: []]
      if let index = list.firstIndex(where: { $0.id == rating.generationID }) {
        list[index].score = rating.score
      } else {
        list.append((rating.generationID, rating.score))
      }
      byPrompt[rating.promptID] = list
    }
    var pairs: [PreferencePair] = []
    for prompt in prompts {
      let list = byPrompt[prompt]!
      for i in list.indices {
        for j in list.indices where j > i && list[i].score != list[j].score {
          pairs.append(
            PreferencePair(
              promptID: prompt,
              first: list[i].id,
              second: list[j].id,
              secondPreferred: list[j].score > list[i].score
            )
          )
        }
      }
    }
    return pairs
  }
}

/// A seeded split by prompt: a prompt is held out when a hash of (seed, prompt id) falls below
/// `fraction`, so no prompt is on both sides and a prompt never changes side as feedback grows
/// (a shuffle of the current set would move prompts between splits on every update).
public struct HeldOutSplit: Sendable, Equatable {
  public var seed: UInt64
  public var fraction: Double

  public init(seed: UInt64, fraction: Double) {
    self.seed = seed
    self.fraction = fraction
  }

  public func isHeldOut(promptID: String) -> Bool {
    let u = Double(StableHash.of(promptID, seed: seed) >> 11) / Double(1 << 53)
    return u < fraction
  }

  /// `items` split in order into training and held-out items.
  public func split<Item>(
    _ items: [Item],
    promptID: (Item) -> String
  ) -> (train: [Item], heldOut: [Item]) {
    var train: [Item] = []
    var heldOut: [Item] = []
    for item in items {
      if isHeldOut(promptID: promptID(item)) { heldOut.append(item) } else { train.append(item) }
    }
    return (train, heldOut)
  }
}

/// The factual reward prompt with its captions in a seeded order per example.
public enum FactualPrompt {
  /// `captions` shuffled (Fisher–Yates over xoshiro256** seeded by (seed, example)): the same
  /// example and seed give the same order on every run and machine.
  public static func shuffledCaptions(
    _ captions: [String],
    seed: UInt64,
    example: String
  ) -> [String] {
    var generator = Xoshiro256StarStar(seed: StableHash.of(example, seed: seed))
    var out = captions
    for i in stride(from: out.count - 1, to: 0, by: -1) {
      out.swapAt(i, Int(generator.next() % UInt64(i + 1)))
    }
    return out
  }

  /// The reward model's evaluation turn (`RewardRunner.evaluationPrompt`) with the shuffled
  /// captions.
  public static func evaluationPrompt(captions: [String], seed: UInt64, example: String) -> String {
    RewardRunner.evaluationPrompt(
      captions: shuffledCaptions(captions, seed: seed, example: example)
    )
  }
}

/// FNV-1a over the UTF-8 bytes, finished with SplitMix64's mixer: stable across runs and
/// machines (Swift's `Hasher` is seeded per process).
enum StableHash {
  static func of(_ text: String, seed: UInt64) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
    for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    h ^= h >> 30
    h = h &* 0xBF58_476D_1CE4_E5B9
    h ^= h >> 27
    h = h &* 0x94D0_49BB_1331_11EB
    return h ^ (h >> 31)
  }
}
