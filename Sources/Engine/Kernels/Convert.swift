/// Bulk conversion of stored weights (f32, f16, bf16) to fp32.
public enum Convert {
  /// `out[i] = float(in[i])` for `count` elements (fast path: eight at a time in registers).
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (count)
    in input: UnsafeRawPointer,  // (count) elements of `dtype`, any alignment
    dtype: WeightView.DType,
    count: Int
  ) {
    switch dtype {
    case .f32: UnsafeMutableRawPointer(out).copyMemory(from: input, byteCount: count * 4)
    case .f16: convert(F16Elements.self, out: out, input: input, count: count)
    case .bf16: convert(BF16Elements.self, out: out, input: input, count: count)
    }
  }

  /// Reference: one element at a time through the scalar decoders in `HalfPrecision`.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (count)
    in input: UnsafeRawPointer,  // (count) elements of `dtype`
    dtype: WeightView.DType,
    count: Int
  ) {
    for i in 0..<count {
      switch dtype {
      case .f32:
        out[i] = input.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
      case .f16:
        out[i] = HalfPrecision.float(
          fromF16: input.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
        )
      case .bf16:
        out[i] = HalfPrecision.float(
          fromBF16: input.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
        )
      }
    }
  }

  private static func convert<Element: ElementDecoding>(
    _: Element.Type,
    out: UnsafeMutablePointer<Float>,
    input: UnsafeRawPointer,
    count: Int
  ) {
    let raw = UnsafeMutableRawPointer(out)
    var i = 0
    while i &+ 8 <= count {
      raw.storeBytes(of: Element.load8(input, i), toByteOffset: i &* 4, as: SIMD8<Float>.self)
      i &+= 8
    }
    while i < count {
      out[i] = Element.load1(input, i)
      i &+= 1
    }
  }
}
