// `preprocessor_config.json` of a llava-hf checkpoint: a transformers CLIPImageProcessor.
// Omitted keys take CLIPImageProcessor's defaults, checked against transformers 5.24
// src/transformers/models/clip/image_processing_clip.py: resample BICUBIC (3), image_mean/std
// OPENAI_CLIP_MEAN/STD, size {"shortest_edge": 224}, crop_size {"height": 224, "width": 224},
// do_resize, do_center_crop, do_rescale, do_normalize and do_convert_rgb all True;
// rescale_factor 1/255 (the BaseImageProcessor default). Original LLaVA's `image_aspect_ratio`
// ("pad" = pad to a square filled with the mean colour before processing) is read when present.

/// How images are turned into pixel values.
public struct ImageProcessorConfig: Sendable, Equatable, Decodable {
  /// The resize target.
  public enum Size: Sendable, Equatable {
    /// Scale so the shorter side has this length, keeping the aspect ratio.
    case shortestEdge(Int)
    /// Scale to exactly this size.
    case exact(height: Int, width: Int)
  }

  /// PIL resampling filters, by their PIL numbers.
  public enum Resample: Int, Sendable, Equatable {
    case nearest = 0
    case lanczos = 1
    case bilinear = 2
    case bicubic = 3
    case box = 4
    case hamming = 5
  }

  public static let openAIClipMean = [0.48145466, 0.4578275, 0.40821073]
  public static let openAIClipStd = [0.26862954, 0.26130258, 0.27577711]

  public var doResize = true
  public var size = Size.shortestEdge(224)
  public var resample = Resample.bicubic
  public var doCenterCrop = true
  public var cropHeight = 224
  public var cropWidth = 224
  public var doRescale = true
  public var rescaleFactor = 1.0 / 255.0
  public var doNormalize = true
  public var imageMean = openAIClipMean
  public var imageStd = openAIClipStd
  public var doConvertRGB = true
  /// LLaVA's pad-to-square (`image_aspect_ratio: "pad"`).
  public var padToSquare = false

  /// CLIPImageProcessor's defaults.
  public init() {}

  public static func load(path: String) throws(CheckpointError) -> ImageProcessorConfig {
    try ConfigDecoding.load(ImageProcessorConfig.self, from: path)
  }

  public static func load(directory: String) throws(CheckpointError) -> ImageProcessorConfig {
    try load(path: FileIO.join(directory, "preprocessor_config.json"))
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    let type: String = try c.value("image_processor_type", or: "CLIPImageProcessor")
    guard ["CLIPImageProcessor", "CLIPImageProcessorFast"].contains(type) else {
      throw unsupported("image_processor_type '\(type)' is not supported (only CLIPImageProcessor)")
    }
    doResize = try c.value("do_resize", or: true)
    if c.contains("size"), try !c.decodeNil(forKey: "size") {
      size = try Self.decodeSize(c, key: "size")
    }
    let filter: Int = try c.value("resample", or: 3)
    guard let resample = Resample(rawValue: filter) else {
      throw invalidConfig("resample \(filter) is not a PIL filter number (0...5)")
    }
    self.resample = resample
    doCenterCrop = try c.value("do_center_crop", or: true)
    if c.contains("crop_size"), try !c.decodeNil(forKey: "crop_size") {
      switch try Self.decodeSize(c, key: "crop_size") {
      case .shortestEdge(let side): (cropHeight, cropWidth) = (side, side)
      case .exact(let height, let width): (cropHeight, cropWidth) = (height, width)
      }
    }
    doRescale = try c.value("do_rescale", or: true)
    rescaleFactor = try c.value("rescale_factor", or: rescaleFactor)
    doNormalize = try c.value("do_normalize", or: true)
    imageMean = try c.value("image_mean", or: imageMean)
    imageStd = try c.value("image_std", or: imageStd)
    doConvertRGB = try c.value("do_convert_rgb", or: true)
    let aspect: String = try c.value("image_aspect_ratio", or: "square")
    guard ["pad", "square", "original"].contains(aspect) else {
      throw unsupported("image_aspect_ratio '\(aspect)' is not supported (only 'pad' or 'square')")
    }
    padToSquare = aspect == "pad"
    try validate()
  }

  /// `size`/`crop_size`: an integer (legacy square / shortest edge), {"shortest_edge"} or
  /// {"height", "width"}.
  private static func decodeSize(_ c: KeyedDecodingContainer<AnyKey>, key: AnyKey) throws -> Size {
    if let side = try? c.decode(Int.self, forKey: key) { return .shortestEdge(side) }
    let sizes = try c.decode([String: Int].self, forKey: key)
    if let edge = sizes["shortest_edge"], sizes.count == 1 { return .shortestEdge(edge) }
    if let height = sizes["height"], let width = sizes["width"], sizes.count == 2 {
      return .exact(height: height, width: width)
    }
    throw unsupported(
      "\(key.stringValue) \(sizes) is not supported (use shortest_edge, or height and width)"
    )
  }

  func validate() throws(CheckpointError) {
    let sides: [Int] =
      switch size {
      case .shortestEdge(let side): [side, cropHeight, cropWidth]
      case .exact(let height, let width): [height, width, cropHeight, cropWidth]
      }
    guard sides.allSatisfy({ $0 > 0 }) else { throw invalidConfig("image sizes must be positive") }
    guard imageMean.count == 3, imageStd.count == 3 else {
      throw invalidConfig(
        "image_mean and image_std need 3 values (RGB), got \(imageMean.count) and \(imageStd.count)"
      )
    }
    guard imageStd.allSatisfy({ $0 > 0 && $0.isFinite }), imageMean.allSatisfy(\.isFinite) else {
      throw invalidConfig("image_std must be positive and image_mean finite")
    }
    guard rescaleFactor > 0, rescaleFactor.isFinite else {
      throw invalidConfig("rescale_factor must be positive")
    }
  }
}
