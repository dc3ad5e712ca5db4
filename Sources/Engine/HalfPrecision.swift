/// Scalar conversions between fp32 and the 16-bit formats checkpoints store, as raw `UInt16`
/// bits (little-endian in the file). These are the references; `Convert` has the bulk fast paths.
public enum HalfPrecision {
  /// bf16 → fp32: exact, bf16 is the upper half of an fp32 (NaN payloads and signs kept).
  public static func float(fromBF16 bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
  }

  /// fp32 → bf16, rounding to nearest, ties to even (as PyTorch does). Values beyond the largest
  /// bf16 round to infinity; NaN stays a quiet NaN with its sign.
  public static func bf16(from value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN {
      return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
    }
    // Adding 0x7FFF plus the lowest kept bit rounds half-way cases towards an even result.
    let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
  }

  /// f16 → fp32, exact, decoded field by field (subnormals, infinities, NaN payloads).
  public static func float(fromF16 bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x03FF)
    switch exponent {
    case 0:
      // Zero or subnormal: mantissa · 2^-24, exactly representable in fp32.
      let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
      return sign == 0 ? magnitude : -magnitude
    case 0x1F:
      return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
      // Rebias the exponent from 15 to 127.
      return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }
  }

  /// fp32 → f16, rounding to nearest, ties to even (IEEE, via the standard library's `Float16`).
  public static func f16(from value: Float) -> UInt16 {
    Float16(value).bitPattern
  }
}
