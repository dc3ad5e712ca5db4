// What the policy and reward runners load and use alike besides the weights: the tokenizer
// (`tokenizer.model` + `tokenizer_config.json`), the image preprocessor
// (`preprocessor_config.json`) and the image-feature cache keyed by the SHA-256 of the bytes.
import Foundation
import Imaging
import Models
import Services
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

/// Decodes, preprocesses and encodes images, caching the projected features by SHA-256.
struct ImageFeatures: Sendable {
  let preprocessor: CLIPPreprocessor
  let decoder: ImageDecoder
  let cache: ImageCache<[Float]>

  /// Projected features of one image, from the cache or by decoding it and calling `encode`
  /// on its pixel values.
  func embeddings(
    _ image: GenerationImage,
    field: String,
    encode: ([Float]) throws(ModelError) -> [Float]
  ) throws -> [Float] {
    switch image {
    case .sha256(let hash):
      guard let key = ImageFeatureKey(hex: hash), let cached = cache.value(for: key) else {
        throw BackendError(
          .notFound,
          "\(field).sha256 \(hash.prefix(64)) is not a known image (never sent, or evicted): send its bytes"
        )
      }
      return cached
    case .data(let bytes):
      let key = ImageFeatureKey(bytes: bytes)
      if let cached = cache.value(for: key) { return cached }
      let decoded: RGBImage
      do { decoded = try decoder.decode(bytes) } catch {
        throw BackendError(.invalidArgument, "\(field).data: \(error.message)")
      }
      let pixels = preprocessor.pixelValues(for: decoded)
      let rows: [Float]
      do { rows = try encode(pixels.values) } catch {
        throw BackendError(.invalidArgument, "\(field): \(error)")
      }
      _ = cache.insert(rows, for: key, cost: rows.count * MemoryLayout<Float>.stride)
      return rows
    }
  }
}
