/// Limits checked on the encoded size and on the header, before any pixel is decoded.
public struct ImageLimits: Sendable, Hashable {
  /// Maximum encoded size in bytes.
  public var maxBytes: Int
  public var maxWidth: Int
  public var maxHeight: Int
  /// Maximum `width * height`.
  public var maxPixels: Int
  /// Smallest accepted width and height; 1 accepts a 1×1 image.
  public var minWidth: Int
  public var minHeight: Int

  public init(
    maxBytes: Int = 32 << 20,
    maxWidth: Int = 8192,
    maxHeight: Int = 8192,
    maxPixels: Int = 25_000_000,
    minWidth: Int = 1,
    minHeight: Int = 1
  ) {
    self.maxBytes = maxBytes
    self.maxWidth = maxWidth
    self.maxHeight = maxHeight
    self.maxPixels = maxPixels
    self.minWidth = minWidth
    self.minHeight = minHeight
  }

  /// Throws `.tooLarge` / `.tooSmall` for a header outside the limits.
  public func check(_ header: ImageHeader) throws(ImagingError) {
    let (w, h) = (header.width, header.height)
    let format = header.format.rawValue
    if w > maxWidth || h > maxHeight {
      throw ImagingError(
        .tooLarge,
        "\(format) image is \(w)x\(h), over the limit of \(maxWidth)x\(maxHeight)"
      )
    }
    if w * h > maxPixels {
      throw ImagingError(
        .tooLarge,
        "\(format) image has \(w * h) pixels (\(w)x\(h)), over the limit of \(maxPixels)"
      )
    }
    if w < minWidth || h < minHeight {
      throw ImagingError(
        .tooSmall,
        "\(format) image is \(w)x\(h), under the minimum of \(minWidth)x\(minHeight)"
      )
    }
  }
}

/// The encoded formats that are decoded.
public enum ImageFormat: String, Sendable, Hashable {
  case png = "PNG"
  case jpeg = "JPEG"
}

/// What the header says, read without decoding.
public struct ImageHeader: Sendable, Hashable {
  public var format: ImageFormat
  public var width: Int
  public var height: Int
  /// Stored components (PNG 1–4 with palette counted as 1; JPEG 1 or 3).
  public var channels: Int
}
