/// An 8-bit RGB image, row-major, 3 bytes per pixel (HWC).
public struct RGBImage: Sendable, Hashable {
  public let width: Int
  public let height: Int
  /// `height * width * 3` bytes.
  public let pixels: [UInt8]

  public init(width: Int, height: Int, pixels: [UInt8]) {
    precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3, "RGB size")
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// LLaVA's `expand2square`: the image pasted onto a square canvas of the longer side filled
  /// with `fill`, centred along the shorter axis at offset `(long - short) / 2` (rounded down).
  public func expandedToSquare(fill: (UInt8, UInt8, UInt8)) -> RGBImage {
    guard width != height else { return self }
    let side = max(width, height)
    let (left, top) = width > height ? (0, (width - height) / 2) : ((height - width) / 2, 0)
    var canvas = [UInt8](repeating: 0, count: side * side * 3)
    for i in stride(from: 0, to: canvas.count, by: 3) {
      (canvas[i], canvas[i + 1], canvas[i + 2]) = fill
    }
    for y in 0..<height {
      let source = y * width * 3
      let target = ((y + top) * side + left) * 3
      canvas.replaceSubrange(target..<target + width * 3, with: pixels[source..<source + width * 3])
    }
    return RGBImage(width: side, height: side, pixels: canvas)
  }
}
