// LLaVA-RLHF's symbolic reward terms (ppo_trainer.py `post_reward`, research/rlhf-spec.md §3),
// added to the reward model's score:
//
//   correctness    = correctness_weight (2.0) × c, where
//                    multiple choice with correct letter X (A, B, …): c = 1 if the response
//                    starts with "X." or contains "correct option is X.", else 0;
//                    yes/no with answer No: c = +0.5 if it starts with "No", −0.5 if "Yes";
//                    answer Yes: c = 0 (the original deliberately leaves it unrewarded).
//   length_penalty = length_weight (−10) × tokens / length_normalizer (896, the PPO response_len)
//   eos_penalty    = no_eos_penalty (−8) when the response did not end with EOS.
public import ServingTypes

/// Weights of the symbolic terms (config `reward_weights`).
public struct RewardWeights: Codable, Sendable, Equatable {
  public var correctness: Float = 2.0
  public var length: Float = -10.0
  public var lengthNormalizer: Float = 896
  public var noEOS: Float = -8.0

  public init() {}

  public enum CodingKeys: String, CodingKey, CaseIterable {
    case correctness
    case length
    case lengthNormalizer = "length_normalizer"
    case noEOS = "no_eos"
  }

  public init(from decoder: any Decoder) throws {
    let d = RewardWeights()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    correctness = try c.decodeIfPresent(Float.self, forKey: .correctness) ?? d.correctness
    length = try c.decodeIfPresent(Float.self, forKey: .length) ?? d.length
    lengthNormalizer =
      try c.decodeIfPresent(Float.self, forKey: .lengthNormalizer) ?? d.lengthNormalizer
    noEOS = try c.decodeIfPresent(Float.self, forKey: .noEOS) ?? d.noEOS
  }
}

public enum SymbolicRewards {
  /// The unweighted correctness c of `response` against `facts` (see the file comment).
  public static func correctness(_ response: String, facts: RewardFacts?) -> Float {
    guard let facts else { return 0 }
    let text = response.drop(while: \.isWhitespace)
    if let index = facts.correctChoice, (0..<26).contains(index) {
      let letter = String(UnicodeScalar(UInt8(65 + index)))
      return text.hasPrefix(letter + ".") || text.contains("correct option is \(letter).") ? 1 : 0
    }
    if facts.yesNoAnswer == false {
      if text.hasPrefix("No") { return 0.5 }
      if text.hasPrefix("Yes") { return -0.5 }
    }
    return 0
  }

  /// The weighted terms for one response of `tokens` tokens.
  public static func terms(
    _ response: String,
    tokens: Int,
    endedWithEOS: Bool,
    facts: RewardFacts?,
    weights: RewardWeights
  ) -> (correctness: Float, length: Float, eos: Float) {
    (
      weights.correctness * correctness(response, facts: facts),
      weights.length * Float(tokens) / weights.lengthNormalizer,
      endedWithEOS ? 0 : weights.noEOS
    )
  }
}
