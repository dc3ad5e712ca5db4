// What the policy and reward runners load and use alike besides the weights: the tokenizer
// (`tokenizer.model` + `tokenizer_config.json`), the image preprocessor
// (`preprocessor_config.json`) and the image-feature cache keyed by the SHA-256 of the bytes.
import Foundation
import Imaging
import Models
import ServingTypes
import Tokenizer

enum ModelAssets {
  static func tokenizer(directory: String) throws -> SentencePieceTokenizer {
    var configuration = SentencePieceTokenizer.Configuration()
    let path = directory + "/tokenizer_config.json"
    if FileManager.default.fileExists(atPath: path) {
      configuration = try JSONDecoder().decode(
        SentencePieceTokenizer.Configuration.self,
        from: Data(contentsOf: URL(fileURLWithPath: path))
      )
    }
    return try SentencePieceTokenizer(
      modelPath: directory + "/tokenizer.model",
      configuration: configuration
    )
  }

  static func imageFeatures(
    directory: String,
    side: Int,
    padToSquare: Bool,
    limits: ImageLimits,
    cacheBytes: Int
  ) throws -> ImageFeatures {
    var configuration = CLIPPreprocessor.Configuration(side: side)
    let path = directory + "/preprocessor_config.json"
    if FileManager.default.fileExists(atPath: path) {
      configuration = try JSONDecoder().decode(
        CLIPPreprocessor.Configuration.self,
        from: Data(contentsOf: URL(fileURLWithPath: path))
      )
    }
    return ImageFeatures(
      preprocessor: CLIPPreprocessor(configuration: configuration, padToSquare: padToSquare),
      decoder: ImageDecoder(limits: limits),
      cache: ImageCache(byteBudget: cacheBytes)
    )
  }
}

/// An image of a request, ready for the scheduler thread: its projected features when cached,
/// else its pixel values to encode there.
struct PreparedImage: Sendable {
  let key: ImageFeatureKey
  let embeddings: [Float]?
  let pixels: [Float]?
}

/// Decodes, preprocesses and encodes images, caching the projected features by SHA-256.
struct ImageFeatures: Sendable {
  let preprocessor: CLIPPreprocessor
  let decoder: ImageDecoder
  let cache: ImageCache<[Float]>

  /// Looks `image` up in the cache, or decodes and preprocesses it (off the scheduler thread;
  /// the encoding itself runs there). Unknown hashes are NOT_FOUND, bad bytes INVALID_ARGUMENT.
  func prepare(_ image: GenerationImage, field: String) throws -> PreparedImage {
    switch image {
    case .sha256(let hash):
      guard let key = ImageFeatureKey(hex: hash), let cached = cache.value(for: key) else {
        throw BackendError(
          .notFound,
          "\(field).sha256 \(hash.prefix(64)) is not a known image (never sent, or evicted): send its bytes"
        )
      }
      return PreparedImage(key: key, embeddings: cached, pixels: nil)
    case .data(let bytes):
      let key = ImageFeatureKey(bytes: bytes)
      if let cached = cache.value(for: key) {
        return PreparedImage(key: key, embeddings: cached, pixels: nil)
      }
      let decoded: RGBImage
      do { decoded = try decoder.decode(bytes) } catch {
        throw BackendError(.invalidArgument, "\(field).data: \(error.message)")
      }
      return PreparedImage(
        key: key,
        embeddings: nil,
        pixels: preprocessor.pixelValues(for: decoded).values
      )
    }
  }

  /// The features of `image`: cached, or encoded now with `encode` and cached.
  func embeddings(
    _ image: PreparedImage,
    encode: ([Float]) throws(ModelError) -> [Float]
  ) throws(ModelError) -> [Float] {
    if let embeddings = image.embeddings { return embeddings }
    if let cached = cache.value(for: image.key) { return cached }
    let rows = try encode(image.pixels ?? [])
    _ = cache.insert(rows, for: image.key, cost: rows.count * MemoryLayout<Float>.stride)
    return rows
  }
}
