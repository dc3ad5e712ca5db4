// What reward-model training needs from the Score path, so that training sees exactly the
// inputs Score sees: the rendered text and its tokens are `render` and `tokens`; the image's
// projected rows come from the same cache, preprocessing, vision tower and projector as a Score
// request's (`ImageFeatures`).
import Models
public import ServingTypes

extension RewardRunner {
  /// The projected rows `(N, C)` of `image` as a Score request computes them (cached by SHA-256
  /// in the runner's image cache; an unknown hash is NOT_FOUND, bad bytes INVALID_ARGUMENT).
  public func imageRows(_ image: GenerationImage) throws -> [Float] {
    let prepared = try features.prepare(image, field: "image")
    return try features.embeddings(prepared) { pixels throws(ModelError) in
      try model.imageEmbeddings(pixels: pixels)
    }
  }
}
