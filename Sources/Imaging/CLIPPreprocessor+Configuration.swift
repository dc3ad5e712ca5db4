extension CLIPPreprocessor {
  /// The fields of a `preprocessor_config.json` (`CLIPImageProcessor`) that shape pixel values.
  /// Decodes from that file's JSON; omitted keys take transformers' defaults.
  public struct Configuration: Sendable, Hashable, Decodable {
    /// `size`: `{"shortest_edge": n}` (or a bare `n`, as old configs write it) keeps the aspect
    /// ratio; `{"height": h, "width": w}` resizes to exactly that.
    public enum Size: Sendable, Hashable {
      case shortestEdge(Int)
      case exact(height: Int, width: Int)
    }

    public var doResize = true
    public var size = Size.shortestEdge(224)
    /// Pillow's filter; `resample` 3 (bicubic) and 2 (bilinear) are supported.
    public var resample = ResamplingFilter.bicubic
    public var doCenterCrop = true
    public var cropHeight = 224
    public var cropWidth = 224
    public var doRescale = true
    public var rescaleFactor = 1.0 / 255.0
    public var doNormalize = true
    /// OpenAI CLIP's mean and standard deviation.
    public var imageMean = [0.48145466, 0.4578275, 0.40821073]
    public var imageStd = [0.26862954, 0.26130258, 0.27577711]
    /// Whether the processor converts to RGB first (`ImageDecoder` always yields RGB; this
    /// only records the setting).
    public var doConvertRGB = true

    /// A CLIP configuration for `side` pixels (224 for ViT-L/14, 336 for ViT-L/14-336).
    public init(side: Int = 224) {
      size = .shortestEdge(side)
      cropHeight = side
      cropWidth = side
    }

    private enum Keys: String, CodingKey {
      case do_resize, size, resample, do_center_crop, crop_size, do_rescale, rescale_factor
      case do_normalize, image_mean, image_std, do_convert_rgb
    }

    private struct Dimensions: Decodable {
      var shortest_edge: Int?
      var height: Int?
      var width: Int?
    }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: Keys.self)
      self.init()
      doResize = try c.decodeIfPresent(Bool.self, forKey: .do_resize) ?? doResize
      if let side = try? c.decode(Int.self, forKey: .size) {
        size = .shortestEdge(side)
      } else if let d = try c.decodeIfPresent(Dimensions.self, forKey: .size) {
        if let edge = d.shortest_edge {
          size = .shortestEdge(edge)
        } else if let h = d.height, let w = d.width {
          size = .exact(height: h, width: w)
        } else {
          throw DecodingError.dataCorruptedError(
            forKey: .size,
            in: c,
            debugDescription: "size needs shortest_edge or height and width"
          )
        }
      }
      switch try c.decodeIfPresent(Int.self, forKey: .resample) ?? 3 {
      case 3: resample = .bicubic
      case 2: resample = .bilinear
      case let other:
        throw DecodingError.dataCorruptedError(
          forKey: .resample,
          in: c,
          debugDescription: "resample \(other) is not supported (2 or 3)"
        )
      }
      doCenterCrop = try c.decodeIfPresent(Bool.self, forKey: .do_center_crop) ?? doCenterCrop
      if let side = try? c.decode(Int.self, forKey: .crop_size) {
        (cropHeight, cropWidth) = (side, side)
      } else if let d = try c.decodeIfPresent(Dimensions.self, forKey: .crop_size) {
        (cropHeight, cropWidth) = (d.height ?? cropHeight, d.width ?? cropWidth)
      }
      doRescale = try c.decodeIfPresent(Bool.self, forKey: .do_rescale) ?? doRescale
      rescaleFactor = try c.decodeIfPresent(Double.self, forKey: .rescale_factor) ?? rescaleFactor
      doNormalize = try c.decodeIfPresent(Bool.self, forKey: .do_normalize) ?? doNormalize
      imageMean = try c.decodeIfPresent([Double].self, forKey: .image_mean) ?? imageMean
      imageStd = try c.decodeIfPresent([Double].self, forKey: .image_std) ?? imageStd
      doConvertRGB = try c.decodeIfPresent(Bool.self, forKey: .do_convert_rgb) ?? doConvertRGB
      guard imageMean.count == 3, imageStd.count == 3, imageStd.allSatisfy({ $0 != 0 }) else {
        throw DecodingError.dataCorruptedError(
          forKey: .image_std,
          in: c,
          debugDescription: "image_mean/image_std need 3 values, std ≠ 0"
        )
      }
    }
  }
}
