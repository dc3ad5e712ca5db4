import Testing

@testable import Engine

/// The AMX attention kernel (bf16 operands, fp32 sums and softmax) against its reference
/// (`forwardNaiveBF16`: the same roundings, Double sums) across the tile edges: T across the
/// 16-row / 32-key tiles (1, 17, 33, 130), HS across the 32-wide k step and output block (5, 40,
/// 64, 72); and against the fp32 reference within bf16's rounding of q, k, p and v.
@Suite(.enabled(if: BF16Products.amxAvailable, "this CPU has no AMX"))
struct AttentionBF16Tests {
  struct Case: Sendable, CustomTestStringConvertible {
    let T: Int, NH: Int, HS: Int
    var testDescription: String { "T=\(T) NH=\(NH) HS=\(HS)" }
  }

  static let cases = [
    Case(T: 1, NH: 1, HS: 8),
    Case(T: 17, NH: 1, HS: 5),
    Case(T: 33, NH: 3, HS: 64),
    Case(T: 50, NH: 2, HS: 40),
    Case(T: 130, NH: 2, HS: 72),
  ]

  /// (out of the kernel, of the bf16 reference, of the fp32 reference).
  static func outputs(_ c: Case, seed: UInt64) -> ([Float], [Float], [Float]) {
    let n = c.T * c.NH * c.HS
    // Scores of a few units, so that the softmax is far from uniform.
    let q = randomFloats(n, seed: seed, scale: 2)
    let k = randomFloats(n, seed: seed + 1, scale: 2)
    let v = randomFloats(n, seed: seed + 2)
    var amx = [Float](repeating: .nan, count: n)
    var bf16 = amx
    var fp32 = amx
    BidirectionalAttention.forwardAMX(out: &amx, q: q, k: k, v: v, T: c.T, NH: c.NH, HS: c.HS)
    BidirectionalAttention.forwardNaiveBF16(
      out: &bf16,
      q: q,
      k: k,
      v: v,
      T: c.T,
      NH: c.NH,
      HS: c.HS
    )
    BidirectionalAttention.forwardNaive(
      out: &fp32,
      att: nil,
      q: q,
      k: k,
      v: v,
      T: c.T,
      NH: c.NH,
      HS: c.HS
    )
    return (amx, bf16, fp32)
  }

  /// Same roundings as the reference: only fp32 summation order (scores, exp to ~1 ulp) and the
  /// odd exponential rounded to the neighbouring bf16 (2^-8 of one weight) differ.
  @Test(arguments: cases)
  func matchesBF16Reference(_ c: Case) {
    let (amx, bf16, _) = Self.outputs(c, seed: UInt64(41 + c.T))
    expectClose(amx, bf16, tolerance: 2e-3)
  }

  /// Against fp32 attention: bf16's rounding of q and k (2^-9 relative each) moves scores of a
  /// few units by ~1e-2, and of p and v the output by ~4e-3.
  @Test(arguments: cases)
  func closeToFP32Reference(_ c: Case) {
    let (amx, _, fp32) = Self.outputs(c, seed: UInt64(71 + c.T))
    expectClose(amx, fp32, tolerance: 3e-2)
  }

  /// `forward(precision:)`: fp32 is the sgemm path bit for bit; bf16 is this process's path.
  @Test func precisionSelectsPath() {
    let (T, NH, HS) = (40, 2, 16)
    let q = randomFloats(T * NH * HS, seed: 91)
    let k = randomFloats(T * NH * HS, seed: 92)
    let v = randomFloats(T * NH * HS, seed: 93)
    var sgemm = [Float](repeating: .nan, count: T * NH * HS)
    var fp32 = sgemm
    var bf16 = sgemm
    var amx = sgemm
    BidirectionalAttention.forward(out: &sgemm, att: nil, q: q, k: k, v: v, T: T, NH: NH, HS: HS)
    BidirectionalAttention.forward(
      out: &fp32,
      att: nil,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      HS: HS,
      precision: .fp32
    )
    BidirectionalAttention.forward(
      out: &bf16,
      att: nil,
      q: q,
      k: k,
      v: v,
      T: T,
      NH: NH,
      HS: HS,
      precision: .bf16
    )
    BidirectionalAttention.forwardAMX(out: &amx, q: q, k: k, v: v, T: T, NH: NH, HS: HS)
    #expect(fp32 == sgemm)
    #expect(BidirectionalAttention.path(for: .fp32) == .sgemm)
    #expect(bf16 == (BidirectionalAttention.bf16Path == .amx ? amx : sgemm))
  }

  /// Scores hundreds apart: exponentials underflow to (near) zero, never NaN.
  @Test func extremeScoresStayFinite() {
    let (T, NH, HS) = (40, 1, 4)
    let q = (0..<(T * HS)).map { Float($0 % 7) * 40 - 100 }
    let k = (0..<(T * HS)).map { Float($0 % 5) * 30 - 60 }
    let v = randomFloats(T * HS, seed: 94)
    var amx = [Float](repeating: .nan, count: T * HS)
    var bf16 = amx
    BidirectionalAttention.forwardAMX(out: &amx, q: q, k: k, v: v, T: T, NH: NH, HS: HS)
    BidirectionalAttention.forwardNaiveBF16(out: &bf16, q: q, k: k, v: v, T: T, NH: NH, HS: HS)
    #expect(amx.allSatisfy { $0.isFinite })
    expectClose(amx, bf16, tolerance: 2e-3)
  }
}
