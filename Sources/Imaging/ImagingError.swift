/// Why an image was refused. `message` says what and gives the numbers involved.
public struct ImagingError: Error, Equatable, CustomStringConvertible {
  public enum Code: Sendable, Equatable {
    /// No known image signature (including empty input).
    case notAnImage
    /// A recognized but undecoded format (GIF, BMP, WebP, TIFF, CMYK JPEG).
    case unsupportedFormat
    /// Over a byte, width, height or pixel-count limit.
    case tooLarge
    /// Under the minimum width or height.
    case tooSmall
    /// Truncated or malformed data, or a header declaring a zero dimension.
    case corrupt
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
