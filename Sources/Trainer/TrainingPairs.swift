// The reward model's training pairs from the store: stored preferences, and pairs of rated
// generations of one prompt with different scores (issue 13 item 2, `PreferencePairs.fromRatings`),
// in one form the examples are built from.
import Serving
import ServingTypes
import Store
import Training

/// One pair of responses to a prompt about an image, and which is better.
struct TrainingPair: Sendable {
  /// Keys the caption shuffle (the preference id, or the two rating ids).
  let id: String
  let imageSHA256: String
  let prompt: String
  let captions: [String]
  let first: String
  let second: String
  let secondPreferred: Bool

  init(_ p: StoredPreference) {
    id = p.id
    imageSHA256 = p.record.image.sha256
    prompt = p.record.prompt
    captions = p.record.facts?.captions ?? []
    first = p.text1
    second = p.text2
    secondPreferred = p.record.preferred == 2
  }

  init(
    id: String,
    image: String,
    prompt: String,
    first: String,
    second: String,
    secondPreferred: Bool
  ) {
    self.id = id
    imageSHA256 = image
    self.prompt = prompt
    captions = []
    self.first = first
    self.second = second
    self.secondPreferred = secondPreferred
  }

  /// What makes pairs answers to the same prompt (the held-out split keeps them together).
  var promptKey: String { imageSHA256 + "\n" + prompt }

  /// Pairs from ratings: generations of one prompt (text and first image) rated differently.
  /// Returns the pairs and the ratings they used (a rating without a differently rated
  /// partner stays pending); ratings whose generation has no image or is gone are `unusable`
  /// (consumed without training: they can never form a pair the reward model can score).
  static func fromRatings(
    _ ratings: [StoredRating]
  ) -> (pairs: [TrainingPair], used: [String], unusable: [String]) {
    var rated: [Training.RatedGeneration] = []
    var byGeneration: [String: (rating: StoredRating, generation: RatedGenerationRecord)] = [:]
    var unusable: [String] = []
    for rating in ratings {
      guard let generation = rating.generation, let image = generation.images.first else {
        unusable.append(rating.id)
        continue
      }
      rated.append(
        Training.RatedGeneration(
          promptID: image.sha256 + "\n" + generation.prompt,
          generationID: rating.generationID,
          score: rating.score
        )
      )
      byGeneration[rating.generationID] = (rating, generation)
    }
    var pairs: [TrainingPair] = []
    var used: Set<String> = []
    for pair in PreferencePairs.fromRatings(rated) {
      guard let a = byGeneration[pair.first], let b = byGeneration[pair.second] else { continue }
      pairs.append(
        TrainingPair(
          id: a.rating.id + "+" + b.rating.id,
          image: a.generation.images[0].sha256,
          prompt: a.generation.prompt,
          first: a.generation.text,
          second: b.generation.text,
          secondPreferred: pair.secondPreferred
        )
      )
      used.insert(a.rating.id)
      used.insert(b.rating.id)
    }
    return (pairs, ratings.map(\.id).filter(used.contains), unusable)
  }

  /// Preference examples through the reward runner's Score path (the stored image's bytes);
  /// a pair whose image is no longer stored is left out.
  static func examples(
    _ pairs: [TrainingPair],
    runner: RewardRunner,
    store: SQLiteFeedbackStore,
    shuffleSeed: UInt64?
  ) throws -> [PreferenceExample] {
    try pairs.compactMap { p in
      guard let bytes = try store.image(sha256: p.imageSHA256) else { return nil }
      return try PreferenceExample.make(
        runner: runner,
        prompt: p.prompt,
        image: .data(bytes),
        captions: p.captions,
        first: p.first,
        second: p.second,
        secondPreferred: p.secondPreferred,
        shuffleSeed: shuffleSeed,
        example: p.id
      )
    }
  }
}
