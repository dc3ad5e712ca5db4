import CImageCodecs

/// Decodes untrusted PNG and JPEG bytes to RGB, checking limits on the byte count and on the
/// header before anything is decoded. The one Swift owner of `CImageCodecs`.
///
/// Thread safety: a value type with no shared state; the C decoders keep none either.
public struct ImageDecoder: Sendable {
  /// How transparency becomes RGB.
  public enum AlphaHandling: Sendable, Hashable {
    /// Composite over white with PIL's integer arithmetic, as transformers' `convert_to_rgb`
    /// (CLIPImageProcessor with `do_convert_rgb`) does. RGB PNGs keep their colours.
    case compositeOnWhite
    /// Drop alpha and keep the stored colours, as PIL's `Image.convert("RGB")` does (what original
    /// LLaVA applies when it opens an image).
    case drop
  }

  public var limits: ImageLimits
  public var alphaHandling: AlphaHandling

  public init(limits: ImageLimits = ImageLimits(), alphaHandling: AlphaHandling = .compositeOnWhite)
  {
    self.limits = limits
    self.alphaHandling = alphaHandling
  }

  private static let errorCapacity = 256

  /// Reads the header only and checks it against the limits.
  public func probe(_ bytes: [UInt8]) throws(ImagingError) -> ImageHeader {
    try bytes.withUnsafeBytes { raw in Result { () throws(ImagingError) in try probe(raw) } }.get()
  }

  /// Probes, checks limits, then decodes to RGB.
  public func decode(_ bytes: [UInt8]) throws(ImagingError) -> RGBImage {
    try bytes.withUnsafeBytes { raw in Result { () throws(ImagingError) in try decode(raw) } }.get()
  }

  /// `probe` for bytes held elsewhere (e.g. `Data.withUnsafeBytes`).
  public func probe(_ bytes: UnsafeRawBufferPointer) throws(ImagingError) -> ImageHeader {
    guard bytes.count <= limits.maxBytes else {
      throw ImagingError(
        .tooLarge,
        "image is \(bytes.count) bytes, over the limit of \(limits.maxBytes)"
      )
    }
    var format: Int32 = 0
    var width: UInt32 = 0
    var height: UInt32 = 0
    var channels: UInt32 = 0
    let (status, message) = Self.call { err, cap in
      cic_probe(
        bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
        bytes.count,
        &format,
        &width,
        &height,
        &channels,
        err,
        cap
      )
    }
    try Self.check(status, message)
    let header = ImageHeader(
      format: format == Int32(CIC_FORMAT_PNG.rawValue) ? .png : .jpeg,
      width: Int(width),
      height: Int(height),
      channels: Int(channels)
    )
    try limits.check(header)
    return header
  }

  /// `decode` for bytes held elsewhere (e.g. `Data.withUnsafeBytes`).
  public func decode(_ bytes: UnsafeRawBufferPointer) throws(ImagingError) -> RGBImage {
    let header = try probe(bytes)
    let count = header.width * header.height * 3
    let mode = alphaHandling == .drop ? CIC_ALPHA_DROP : CIC_ALPHA_COMPOSITE_WHITE
    var status = CIC_OK
    var message = ""
    let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      (status, message) = Self.call { err, cap in
        cic_decode_rgb8(
          bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
          bytes.count,
          mode,
          UInt32(limits.maxWidth),
          UInt32(limits.maxHeight),
          buffer.baseAddress,
          count,
          err,
          cap
        )
      }
      if status == CIC_OK {
        initialized = count
      } else {
        initialized = 0
      }
    }
    try Self.check(status, message)
    return RGBImage(width: header.width, height: header.height, pixels: pixels)
  }

  private static func call(
    _ body: (UnsafeMutablePointer<CChar>, Int) -> cic_status
  ) -> (cic_status, String) {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: errorCapacity) { buffer in
      buffer.initialize(repeating: 0)
      let status = body(buffer.baseAddress!, errorCapacity)
      return (status, status == CIC_OK ? "" : String(cString: buffer.baseAddress!))
    }
  }

  private static func check(_ status: cic_status, _ message: String) throws(ImagingError) {
    switch status {
    case CIC_OK: return
    case CIC_NOT_AN_IMAGE: throw ImagingError(.notAnImage, message)
    case CIC_UNSUPPORTED: throw ImagingError(.unsupportedFormat, message)
    case CIC_TOO_LARGE: throw ImagingError(.tooLarge, message)
    default: throw ImagingError(.corrupt, message)
    }
  }
}
