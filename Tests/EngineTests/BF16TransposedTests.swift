import Testing

@testable import Engine

/// `BF16Products.packTransposed`: the plain copy is Wᵀ element for element (any CPU); on AMX
/// hosts `Matmul.forward` over split panels of it is `Matmul.backwardInput` through W (fp32
/// summation order), and over plain bf16 panels (`precision: bf16`, dOut rounded) it is that to
/// bf16's rounding wherever bf16 products run.
@Suite struct BF16TransposedTests {
  static let (M, N, K) = (9, 45, 70)

  /// Runs `body` with W (N, K) as bf16 and its transposed copy, its panels for split
  /// activations or not (nil: as W's, which has no panels: not split).
  static func withTransposed(
    splitting: Bool? = true,
    _ body: (WeightView, WeightView) throws -> Void
  ) throws {
    try withWeights(randomFloats(N * K, seed: 41), dtype: .bf16, shape: [N, K]) { w in
      let (plainBytes, panelBytes) = BF16Products.transposedByteCounts(rows: N, columns: K)
      let plain = UnsafeMutableRawPointer.allocate(byteCount: plainBytes, alignment: 64)
      let panels = UnsafeMutableRawPointer.allocate(byteCount: panelBytes, alignment: 64)
      defer {
        plain.deallocate()
        panels.deallocate()
      }
      try body(
        w,
        BF16Products.packTransposed(w, plain: plain, panels: panels, splitting: splitting)
      )
    }
  }

  @Test func plainCopyIsTheTranspose() throws {
    try Self.withTransposed { w, t in
      #expect(t.shape == [Self.K, Self.N] && t.splitsActivations && t.bf16Panels != nil)
      for n in 0..<Self.N {
        for k in 0..<Self.K { #expect(t.element(k * Self.N + n) == w.element(n * Self.K + k)) }
      }
    }
  }

  @Test(.enabled(if: BF16Products.splitsFP32))
  func forwardOverTransposeIsBackwardInput() throws {
    let (M, N, K) = (Self.M, Self.N, Self.K)
    let dOut = randomFloats(M * N, seed: 42)
    try Self.withTransposed { w, t in
      var (expected, got) = (
        [Float](repeating: 0, count: M * K), [Float](repeating: 1, count: M * K)
      )
      Matmul.backwardInput(dIn: &expected, dOut: dOut, weight: w, M: M, N: N, K: K)
      Matmul.forward(out: &got, in: dOut, weight: t, bias: nil, M: M, N: K, K: N)
      let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
      #expect(worst < 1e-5)
    }
  }

  @Test(.enabled(if: BF16Products.isSupported))
  func forwardOverBF16TransposeIsBackwardInputToBF16Rounding() throws {
    let (M, N, K) = (Self.M, Self.N, Self.K)
    let dOut = randomFloats(M * N, seed: 43)
    try Self.withTransposed(splitting: nil) { w, t in
      #expect(!t.splitsActivations && t.bf16Panels != nil)
      var (expected, got) = (
        [Float](repeating: 0, count: M * K), [Float](repeating: 1, count: M * K)
      )
      Matmul.backwardInput(dIn: &expected, dOut: dOut, weight: w, M: M, N: N, K: K)
      Matmul.forward(out: &got, in: dOut, weight: t, bias: nil, M: M, N: K, K: N)
      let largest = expected.map(abs).max() ?? 0
      let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
      #expect(largest > 0 && worst / largest < 1e-2 && worst > 0)
    }
  }
}
