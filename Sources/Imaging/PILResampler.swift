/// Pillow 13's `Image.resize` for 8-bit images (libImaging/Resample.c), reproduced bit for bit:
/// a separable convolution whose filter support is scaled by the downscale factor, coefficients
/// normalized to sum 1 then quantized to 22-bit fixed point, two passes each rounding and
/// clamping to uint8. Normally the horizontal pass runs first over only the rows the vertical pass
/// reads; when the height shrinks by more than twice as many pixels as the width, the vertical
/// pass runs first. A pass whose size does not change is skipped, as in Pillow.
enum PILResampler {
  /// 32 - 8 - 2 bits of fixed-point precision (Resample.c `PRECISION_BITS`).
  static let precisionBits = 22

  /// Per output index: first input index, tap count, and `ksize` fixed-point coefficients.
  struct Coefficients {
    var bounds: [(start: Int, count: Int)]
    var ksize: Int
    var weights: [Int32]
  }

  /// `precompute_coeffs` + `normalize_coeffs_8bpc` for the box `0..<inSize`.
  static func coefficients(inSize: Int, outSize: Int, filter: ResamplingFilter) -> Coefficients {
    // Pillow computes the box edges as C floats and the rest in double.
    let scale = Double(Float(inSize)) / Double(outSize)
    let filterScale = max(scale, 1)
    let inverseFilterScale = 1 / filterScale
    let support = filter.support * filterScale
    let ksize = Int(support.rounded(.up)) * 2 + 1
    var bounds: [(start: Int, count: Int)] = []
    bounds.reserveCapacity(outSize)
    var weights = [Int32](repeating: 0, count: outSize * ksize)
    var row = [Double](repeating: 0, count: ksize)
    for xx in 0..<outSize {
      let center = (Double(xx) + 0.5) * scale
      let xmin = max(Int(center - support + 0.5), 0)  // C (int) truncates toward zero
      let xmax = min(Int(center + support + 0.5), inSize) - xmin
      var sum = 0.0
      for x in 0..<xmax {
        row[x] = filter.weight((Double(x + xmin) - center + 0.5) * inverseFilterScale)
        sum += row[x]
      }
      for x in 0..<xmax {
        let w = sum != 0 ? row[x] / sum : row[x]
        let fixed = w * Double(1 << precisionBits)
        weights[xx * ksize + x] = Int32(w < 0 ? (-0.5 + fixed) : (0.5 + fixed))
      }
      bounds.append((xmin, xmax))
    }
    return Coefficients(bounds: bounds, ksize: ksize, weights: weights)
  }

  @inline(__always)
  static func clip8(_ accumulator: Int) -> UInt8 {
    UInt8(clamping: accumulator >> precisionBits)
  }

  /// Resizes an interleaved 8-bit image with `channels` bytes per pixel.
  static func resize(
    _ pixels: [UInt8],
    width: Int,
    height: Int,
    channels: Int,
    toWidth outWidth: Int,
    height outHeight: Int,
    filter: ResamplingFilter
  ) -> [UInt8] {
    precondition(outWidth > 0 && outHeight > 0 && pixels.count == width * height * channels)
    let vertical = coefficients(inSize: height, outSize: outHeight, filter: filter)
    let horizontal = coefficients(inSize: width, outSize: outWidth, filter: filter)
    let needHorizontal = outWidth != width
    let needVertical = outHeight != height
    // Pillow 13: when the height shrinks by more than twice as many pixels as the width, the
    // vertical pass runs first (earlier Pillow always ran the horizontal pass first).
    let horizontalFirst = !(height - outHeight > 0 && height - outHeight > (width - outWidth) * 2)
    var image = pixels
    if horizontalFirst {
      // The horizontal pass covers only the rows the vertical pass reads.
      let firstRow = needVertical ? vertical.bounds.first!.start : 0
      let lastRow =
        needVertical ? vertical.bounds.last!.start + vertical.bounds.last!.count : height
      if needHorizontal {
        image = pass(
          image,
          count: outWidth,
          lines: lastRow - firstRow,
          channels: channels,
          coefficients: horizontal,
          index: { line, tap in ((line + firstRow) * width + tap) * channels },
          outIndex: { line, x in (line * outWidth + x) * channels }
        )
      }
      let rowOffset = needHorizontal ? firstRow : 0
      if needVertical {
        let stride = outWidth * channels
        image = pass(
          image,
          count: outHeight,
          lines: outWidth,
          channels: channels,
          coefficients: vertical,
          index: { column, tap in (tap - rowOffset) * stride + column * channels },
          outIndex: { column, y in y * stride + column * channels }
        )
      }
    } else {
      let stride = width * channels
      image = pass(
        image,
        count: outHeight,
        lines: width,
        channels: channels,
        coefficients: vertical,
        index: { column, tap in tap * stride + column * channels },
        outIndex: { column, y in y * stride + column * channels }
      )
      if needHorizontal {
        image = pass(
          image,
          count: outWidth,
          lines: outHeight,
          channels: channels,
          coefficients: horizontal,
          index: { line, tap in (line * width + tap) * channels },
          outIndex: { line, x in (line * outWidth + x) * channels }
        )
      }
    }
    return image
  }

  /// One 1-D pass: for each of `lines` lines and each of `count` outputs along it, the fixed-point
  /// dot product of the taps with the coefficients, per channel.
  private static func pass(
    _ input: [UInt8],
    count: Int,
    lines: Int,
    channels: Int,
    coefficients k: Coefficients,
    index: (_ line: Int, _ tap: Int) -> Int,
    outIndex: (_ line: Int, _ position: Int) -> Int
  ) -> [UInt8] {
    var output = [UInt8](repeating: 0, count: count * lines * channels)
    let half = 1 << (precisionBits - 1)
    for line in 0..<lines {
      for position in 0..<count {
        let (start, taps) = k.bounds[position]
        let base = position * k.ksize
        for c in 0..<channels {
          var accumulator = half
          for tap in 0..<taps {
            let value = Int(input[index(line, start + tap) + c])
            accumulator += value * Int(k.weights[base + tap])
          }
          output[outIndex(line, position) + c] = clip8(accumulator)
        }
      }
    }
    return output
  }
}

/// Pillow's resampling filters that CLIP processors use (`resample` 2 and 3).
public enum ResamplingFilter: Sendable, Hashable {
  case bilinear
  case bicubic

  /// Pillow's filter support (radius) before scaling.
  var support: Double {
    switch self {
    case .bilinear: return 1
    case .bicubic: return 2
    }
  }

  func weight(_ x: Double) -> Double {
    let x = abs(x)
    switch self {
    case .bilinear:
      return x < 1 ? 1 - x : 0
    case .bicubic:
      let a = -0.5
      if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
      if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
      return 0
    }
  }
}
