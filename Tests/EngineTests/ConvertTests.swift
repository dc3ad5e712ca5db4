import Engine
import Testing

@Suite struct ConvertTests {
  /// Every 16-bit pattern, for exhaustive checks.
  static let allPatterns = (0...UInt16.max).map { $0 }

  @Test func bf16DecodesSpecialValues() {
    #expect(HalfPrecision.float(fromBF16: 0x3F80) == 1)
    #expect(HalfPrecision.float(fromBF16: 0xC000) == -2)
    #expect(HalfPrecision.float(fromBF16: 0x7F80) == .infinity)
    #expect(HalfPrecision.float(fromBF16: 0xFF80) == -.infinity)
    #expect(HalfPrecision.float(fromBF16: 0x7FC0).isNaN)
    #expect(HalfPrecision.float(fromBF16: 0x8000).bitPattern == (-Float.zero).bitPattern)
    // The smallest bf16 subnormal is the fp32 with bit pattern 0x0001_0000.
    #expect(HalfPrecision.float(fromBF16: 0x0001) == Float(bitPattern: 0x0001_0000))
  }

  @Test func bf16RoundsToNearestEven() {
    #expect(HalfPrecision.bf16(from: 1) == 0x3F80)
    // 1 + 2^-8 lies half-way between 0x3F80 and 0x3F81: ties go to the even 0x3F80.
    #expect(HalfPrecision.bf16(from: 1 + 0x1p-8) == 0x3F80)
    // 1 + 3·2^-8 lies half-way between 0x3F81 and 0x3F82: ties go to the even 0x3F82.
    #expect(HalfPrecision.bf16(from: 1 + 3 * 0x1p-8) == 0x3F82)
    #expect(HalfPrecision.bf16(from: Float(bitPattern: 0x3F80_8001)) == 0x3F81)
    #expect(HalfPrecision.bf16(from: Float(bitPattern: 0x3F80_7FFF)) == 0x3F80)
    // Beyond the largest bf16, rounding overflows to infinity.
    #expect(HalfPrecision.bf16(from: .greatestFiniteMagnitude) == 0x7F80)
    #expect(HalfPrecision.bf16(from: -.greatestFiniteMagnitude) == 0xFF80)
    #expect(HalfPrecision.bf16(from: .infinity) == 0x7F80)
    // Subnormals: half the smallest bf16 subnormal ties to zero; 1.5 of it ties up to two.
    #expect(HalfPrecision.bf16(from: Float(bitPattern: 0x0000_8000)) == 0x0000)
    #expect(HalfPrecision.bf16(from: Float(bitPattern: 0x0001_8000)) == 0x0002)
    #expect(HalfPrecision.bf16(from: Float(bitPattern: 0x0000_0001)) == 0x0000)
  }

  @Test func bf16KeepsNaNQuietWithSign() {
    let positive = HalfPrecision.bf16(from: .nan)
    let negative = HalfPrecision.bf16(from: -.nan)
    // A NaN whose payload sits only in the low bits must not collapse to infinity.
    let lowPayload = HalfPrecision.bf16(from: Float(bitPattern: 0x7F80_0001))
    for bits in [positive, negative, lowPayload] {
      #expect(HalfPrecision.float(fromBF16: bits).isNaN)
    }
    #expect(negative & 0x8000 != 0)
    #expect(positive & 0x8000 == 0)
  }

  @Test func f16ReferenceMatchesStandardLibraryExhaustively() {
    for bits in Self.allPatterns {
      let expected = Float(Float16(bitPattern: bits))
      let actual = HalfPrecision.float(fromF16: bits)
      if expected.isNaN {
        #expect(actual.isNaN && actual.sign == expected.sign, "\(bits)")
      } else {
        #expect(actual.bitPattern == expected.bitPattern, "\(bits)")
      }
    }
  }

  @Test(arguments: [WeightView.DType.f16, .bf16])
  func fastConversionIsBitExactExhaustively(dtype: WeightView.DType) {
    let count = Self.allPatterns.count
    var fast = [Float](repeating: 0, count: count)
    var naive = [Float](repeating: 1, count: count)
    Self.allPatterns.withUnsafeBytes { input in
      Convert.forward(out: &fast, in: input.baseAddress!, dtype: dtype, count: count)
      Convert.forwardNaive(out: &naive, in: input.baseAddress!, dtype: dtype, count: count)
    }
    let mismatches = (0..<count).filter { fast[$0].bitPattern != naive[$0].bitPattern }
    #expect(mismatches.isEmpty, "first mismatching pattern: \(mismatches.first ?? 0)")
  }

  @Test func f16EdgeCases() {
    #expect(HalfPrecision.float(fromF16: 0x7C00) == .infinity)
    #expect(HalfPrecision.float(fromF16: 0xFC00) == -.infinity)
    #expect(HalfPrecision.float(fromF16: 0x7E00).isNaN)
    #expect(HalfPrecision.float(fromF16: 0x0001) == 0x1p-24)
    #expect(HalfPrecision.float(fromF16: 0x03FF) == 0x1p-14 - 0x1p-24)
    #expect(HalfPrecision.float(fromF16: 0x7BFF) == 65504)
    #expect(HalfPrecision.f16(from: 1 + 0x1p-11) == 0x3C00)  // tie to even
    #expect(HalfPrecision.f16(from: 1 + 3 * 0x1p-11) == 0x3C02)  // tie to even
    #expect(HalfPrecision.f16(from: 65520) == 0x7C00)  // half-way above the max: infinity
    #expect(HalfPrecision.f16(from: 0x1p-25) == 0x0000)  // tie to even, zero
    #expect(HalfPrecision.f16(from: 1.5 * 0x1p-24) == 0x0002)  // tie to even
    #expect(HalfPrecision.float(fromF16: HalfPrecision.f16(from: .nan)).isNaN)
  }

  @Test(arguments: [0, 1, 7, 8, 13, 64, 67])
  func conversionHandlesEveryLength(count: Int) {
    let values = randomFloats(count, seed: 7, scale: 100)
    for dtype in [WeightView.DType.f32, .f16, .bf16] {
      var fast = [Float](repeating: .nan, count: count + 1)
      var naive = [Float](repeating: .nan, count: count + 1)
      try? withWeights(values, dtype: dtype, shape: [count]) { view in
        Convert.forward(out: &fast, in: view.base, dtype: dtype, count: count)
        Convert.forwardNaive(out: &naive, in: view.base, dtype: dtype, count: count)
      }
      #expect(fast.map(\.bitPattern) == naive.map(\.bitPattern))
      #expect(fast.last!.isNaN, "wrote past the end")
    }
  }
}
