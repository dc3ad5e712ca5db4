// Loading weight elements of each storage type as fp32, eight at a time, in registers.
// The GEMV and the bulk conversion are generic over these, so each dtype gets its own
// specialised loop (release builds specialise generics within the module).

/// How to read elements of one storage type as fp32.
protocol ElementDecoding {
  /// Bytes per stored element.
  static var byteSize: Int { get }
  /// Elements `index ..< index + 8` as fp32; `base` needs no particular alignment.
  static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float>
  /// Element `index` as fp32.
  static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float
}

enum F32Elements: ElementDecoding {
  static var byteSize: Int { 4 }

  @inline(__always)
  static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
    base.loadUnaligned(fromByteOffset: index &* 4, as: SIMD8<Float>.self)
  }

  @inline(__always)
  static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float {
    base.loadUnaligned(fromByteOffset: index &* 4, as: Float.self)
  }
}

enum BF16Elements: ElementDecoding {
  static var byteSize: Int { 2 }

  /// Widening each UInt16 into the upper half of a UInt32 is the whole conversion; LLVM emits
  /// it as an interleave with a zero register (`punpcklwd`/`punpckhwd`, or `vpmovzxwd` + shift).
  @inline(__always)
  static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
    let halves = base.loadUnaligned(fromByteOffset: index &* 2, as: SIMD8<UInt16>.self)
    let words = SIMD8<UInt32>(truncatingIfNeeded: halves) &<< 16
    return unsafeBitCast(words, to: SIMD8<Float>.self)
  }

  @inline(__always)
  static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float {
    HalfPrecision.float(fromBF16: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
  }
}

enum F16Elements: ElementDecoding {
  static var byteSize: Int { 2 }

  /// Branch-free f16 → f32 without F16C (portable; not yet `vcvtph2ps`): move exponent and
  /// mantissa into fp32 position, then multiply by 2^112 to rebias the exponent (15 → 127).
  /// The multiply also normalises f16 subnormals exactly. Infinities and NaNs (exponent 31)
  /// get the fp32 all-ones exponent, keeping their payload (F. Giesen's `half_to_float_fast`).
  /// Sign and the special-value exponent are built in 16-bit lanes (one register for eight
  /// values) with shifts, because Swift's SIMD comparisons are scalarised.
  @inline(__always)
  static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
    let halves = base.loadUnaligned(fromByteOffset: index &* 2, as: SIMD8<UInt16>.self)
    let magnitude = halves & 0x7FFF
    // 0xFFFF where magnitude >= 0x7C00 (the add carries into bit 15), else 0.
    let special = unsafeBitCast(
      unsafeBitCast(magnitude &+ 0x0400, to: SIMD8<Int16>.self) &>> 15,
      to: SIMD8<UInt16>.self
    )
    let high = (halves & 0x8000) | (special & 0x7F80)
    let shifted = unsafeBitCast(
      SIMD8<UInt32>(truncatingIfNeeded: magnitude) &<< 13,
      to: SIMD8<Float>.self
    )
    let rebiased = unsafeBitCast(shifted * Float(bitPattern: 0x7780_0000), to: SIMD8<UInt32>.self)
    return unsafeBitCast(
      rebiased | (SIMD8<UInt32>(truncatingIfNeeded: high) &<< 16),
      to: SIMD8<Float>.self
    )
  }

  @inline(__always)
  static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float {
    HalfPrecision.float(fromF16: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
  }
}
