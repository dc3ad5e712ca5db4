// Preference examples from text through the reward runner's own reward-prompt path
// (`RewardRunner.render`, `tokens`, `imageRows`): the factual prompt with the captions shuffled
// per example (seeded, `FactualPrompt`; the same order for both responses of a pair), the
// template, the image rows of the vision tower — what a Score request of either response sees.
public import Serving
public import ServingTypes

extension PreferenceExample {
  /// One pair from text. `shuffleSeed`: shuffle the captions per example (keyed by `example`,
  /// e.g. the pair's id); nil = the given order (as Score, which does not shuffle).
  public static func make(
    runner: RewardRunner,
    prompt: String,
    image: GenerationImage,
    captions: [String],
    first: String,
    second: String,
    secondPreferred: Bool,
    shuffleSeed: UInt64?,
    example: String
  ) throws -> PreferenceExample {
    let facts =
      shuffleSeed.map { FactualPrompt.shuffledCaptions(captions, seed: $0, example: example) }
      ?? captions
    // (A sequence longer than the model's context is the training forward's contextOverflow.)
    func tokens(_ response: String) throws -> [Int32] {
      try runner.tokens(runner.render(prompt: prompt, response: response, captions: facts))
    }
    return PreferenceExample(
      first: try tokens(first),
      second: try tokens(second),
      imageEmbeddings: try runner.imageRows(image),
      secondPreferred: secondPreferred
    )
  }
}
