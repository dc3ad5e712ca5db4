/// transformers' `CLIPImageProcessor` on an already RGB image (conversion happens in
/// `ImageDecoder`), optionally preceded by LLaVA's pad-to-square:
///
/// 1. `expand2square` with the mean colour (`int(x * 255)` of `image_mean`), when `padToSquare`;
/// 2. resize so the shortest edge is `size.shortest_edge` (long edge `int(size * long / short)`),
///    with Pillow's bicubic filter on uint8, bit-exact (`PILResampler`);
/// 3. centre crop to `crop_size` (top = (h - crop) // 2, zero padding when the image is smaller);
/// 4. rescale by `rescale_factor`, normalize by mean/std in double, output float32 CHW.
public struct CLIPPreprocessor: Sendable {
  public var configuration: Configuration
  /// LLaVA's `image_aspect_ratio == "pad"` (LLaVA-RLHF uses it).
  public var padToSquare: Bool

  public init(configuration: Configuration = Configuration(), padToSquare: Bool = false) {
    self.configuration = configuration
    self.padToSquare = padToSquare
  }

  /// Normalized pixels, channel-major: `values[(c * height + y) * width + x]`.
  public struct PixelValues: Sendable, Hashable {
    public var height: Int
    public var width: Int
    public var values: [Float]
  }

  /// LLaVA's pad colour: `tuple(int(x * 255) for x in image_mean)`.
  public var backgroundFill: (UInt8, UInt8, UInt8) {
    let mean = configuration.imageMean.map { UInt8(clamping: Int($0 * 255)) }
    return (mean[0], mean[1], mean[2])
  }

  /// Steps 1–4.
  public func pixelValues(for image: RGBImage) -> PixelValues {
    let prepared = resizedAndCropped(image)
    let plane = prepared.width * prepared.height
    var values = [Float](repeating: 0, count: 3 * plane)
    let c = configuration
    for channel in 0..<3 {
      let mean = c.doNormalize ? c.imageMean[channel] : 0
      let std = c.doNormalize ? c.imageStd[channel] : 1
      let scale = c.doRescale ? c.rescaleFactor : 1
      for i in 0..<plane {
        let x = Double(prepared.pixels[i * 3 + channel]) * scale
        values[channel * plane + i] = Float((x - mean) / std)
      }
    }
    return PixelValues(height: prepared.height, width: prepared.width, values: values)
  }

  /// Steps 1–3: the uint8 image the model's normalization starts from.
  public func resizedAndCropped(_ image: RGBImage) -> RGBImage {
    var image = padToSquare ? image.expandedToSquare(fill: backgroundFill) : image
    if configuration.doResize {
      let (height, width) = outputSize(height: image.height, width: image.width)
      if height != image.height || width != image.width {
        let pixels = PILResampler.resize(
          image.pixels,
          width: image.width,
          height: image.height,
          channels: 3,
          toWidth: width,
          height: height,
          filter: configuration.resample
        )
        image = RGBImage(width: width, height: height, pixels: pixels)
      }
    }
    if configuration.doCenterCrop {
      image = Self.centerCrop(
        image,
        height: configuration.cropHeight,
        width: configuration.cropWidth
      )
    }
    return image
  }

  /// transformers' `get_resize_output_image_size` (shortest edge) or the exact size.
  func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
    switch configuration.size {
    case .exact(let h, let w):
      return (h, w)
    case .shortestEdge(let size):
      let (short, long) = width <= height ? (width, height) : (height, width)
      let newLong = Int(Double(size * long) / Double(short))
      return width <= height ? (newLong, size) : (size, newLong)
    }
  }

  /// transformers' `center_crop`, including its zero padding when the crop exceeds the image.
  static func centerCrop(_ image: RGBImage, height cropH: Int, width cropW: Int) -> RGBImage {
    let (h, w) = (image.height, image.width)
    let paddedH = max(cropH, h)
    let paddedW = max(cropW, w)
    // Offsets of the image inside the padded canvas (ceil of half the padding), then the crop.
    let padTop = (paddedH - h + 1) / 2
    let padLeft = (paddedW - w + 1) / 2
    let top = Self.floorDiv(h - cropH, 2) + padTop
    let left = Self.floorDiv(w - cropW, 2) + padLeft
    let outH = min(paddedH, top + cropH) - max(0, top)
    let outW = min(paddedW, left + cropW) - max(0, left)
    var pixels = [UInt8](repeating: 0, count: outH * outW * 3)
    for y in 0..<outH {
      let sourceY = y + max(0, top) - padTop
      guard sourceY >= 0 && sourceY < h else { continue }
      for x in 0..<outW {
        let sourceX = x + max(0, left) - padLeft
        guard sourceX >= 0 && sourceX < w else { continue }
        for c in 0..<3 {
          pixels[(y * outW + x) * 3 + c] = image.pixels[(sourceY * w + sourceX) * 3 + c]
        }
      }
    }
    return RGBImage(width: outW, height: outH, pixels: pixels)
  }

  private static func floorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
  }
}
