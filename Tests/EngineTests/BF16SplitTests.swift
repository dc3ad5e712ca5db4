import CKernels
import Foundation
import Testing

@testable import Engine

/// fp32 products on bf16 panels with split activations (`BF16Products.forwardSplit`,
/// `precision: fp32` on AMX hosts) against the fp32 reference of the stored weights (Double
/// sums, `GEMV.forwardNaive`): they must agree to fp32 summation error, not bf16 rounding.
/// They run only where the AMX kernel can run.
@Suite struct BF16SplitTests {
  /// `body` with `values` as a bf16 weight with panels packed for split products.
  static func withSplitPanels<R>(
    _ values: [Float],
    shape: [Int],
    _ body: (WeightView) throws -> R
  ) throws -> R {
    try BF16ProductsTests.withPanels(values, shape: shape, splitting: true, body)
  }

  /// `in · Wᵀ (+ bias)` into `start` by `Matmul.forward` (which dispatches to the split
  /// products) or by the fp32 reference of the stored weights (Double sums).
  static func product(
    naive: Bool,
    _ view: WeightView,
    input: [Float],  // (M, K)
    bias: UnsafePointer<Float>?,  // (N)
    start: [Float],  // (M, N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool
  ) -> [Float] {
    guard naive else {
      return BF16ProductsTests.product(
        naive: false,
        view,
        input: input,
        bias: bias,
        start: start,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate
      )
    }
    let out = Tensor(shape: [M, N], values: start)
    GEMV.forwardNaive(
      out: out.data,
      in: input,
      weight: view,
      bias: bias,
      M: M,
      N: N,
      K: K,
      accumulate: accumulate
    )
    return out.toArray()
  }

  @Test(.enabled(if: BF16Products.amxAvailable))
  func matchesFP32Reference() throws {
    try BF16ProductsTests.expectMatchesReference(
      rows: [1, 2, 5, 6, 11, 16, 40],
      sizes: [(1, 1), (31, 7), (32, 64), (33, 130), (70, 33), (64, 2048)],
      seed: 61,
      tolerance: 2e-5,
      splitting: true
    ) {
      Self.product(
        naive: $0,
        $1,
        input: $2,
        bias: $3,
        start: $4,
        M: $5,
        N: $6,
        K: $7,
        accumulate: $8
      )
    }
  }

  /// Rows of very different magnitudes (1e-6 to 1e6): the split keeps fp32's relative
  /// precision on each, where rounding the activations to bf16 would lose ~2^-9.
  @Test(.enabled(if: BF16Products.amxAvailable))
  func keepsFP32PrecisionAcrossMagnitudes() throws {
    let (M, N, K) = (13, 48, 512)
    var input = randomFloats(M * K, seed: 71)
    for m in 0..<M {
      let scale = Float(pow(10.0, Double(m - 6)))
      for k in 0..<K { input[m * K + k] *= scale }
    }
    try Self.withSplitPanels(randomFloats(N * K, seed: 72), shape: [N, K]) { view in
      let zeros = [Float](repeating: 0, count: M * N)
      let run = { (naive: Bool) in
        Self.product(
          naive: naive,
          view,
          input: input,
          bias: nil,
          start: zeros,
          M: M,
          N: N,
          K: K,
          accumulate: false
        )
      }
      let (split, exact) = (run(false), run(true))
      for m in 0..<M {
        let rows = (m * N)..<((m + 1) * N)
        let error = relativeError(Array(split[rows]), Array(exact[rows]))
        #expect(error < 1e-6, "row \(m) (scale 1e\(m - 6)): relative error \(error)")
      }
    }
  }

  /// A row's output is bit-identical whatever else is in the batch.
  @Test(.enabled(if: BF16Products.amxAvailable))
  func rowsDoNotDependOnTheBatch() throws {
    let (M, N, K) = (29, 70, 300)
    let input = randomFloats(M * K, seed: 81)
    try Self.withSplitPanels(randomFloats(N * K, seed: 82), shape: [N, K]) { view in
      let zeros = { (rows: Int) in [Float](repeating: 0, count: rows * N) }
      let run = { (input: [Float], rows: Int) in
        Self.product(
          naive: false,
          view,
          input: input,
          bias: nil,
          start: zeros(rows),
          M: rows,
          N: N,
          K: K,
          accumulate: false
        )
      }
      let all = run(input, M)
      for m in [0, 11, 12, 28] {
        let alone = run(Array(input[(m * K)..<((m + 1) * K)]), 1)
        #expect(alone == Array(all[(m * N)..<((m + 1) * N)]), "row \(m)")
      }
    }
  }

  /// hi + mid + lo reproduces each value to 2^-26 relative, and each part is a bf16 value; the
  /// tile's unused rows and the row padding are zeros.
  @Test(.enabled(if: BF16Products.isSupported))
  func splitReconstructsValues() {
    let (M, K) = (3, 37)
    var values = randomFloats(M * K, seed: 91, scale: 1000)
    values[0] = 1.0 / 3.0
    values[1] = -Float.pi
    values[2] = 0
    let stride = ckernels_bf16_amx_row_stride(K)
    let rows = ckernels_bf16_split3_rows(M)
    var parts = [UInt16](repeating: 0xFFFF, count: rows * stride)
    ckernels_bf16_split3_padded(&parts, values, M, K, 0, rows / 16)
    // Part p of source row m: tile m / 5, row m % 5 + 5 p (hi 0-4, mid 5-9, lo 10-14).
    let at = { (m: Int, p: Int, k: Int) in (16 * (m / 5) + m % 5 + 5 * p) * stride + k }
    #expect(rows == 16 && parts[(15 * stride)..<(16 * stride)].allSatisfy { $0 == 0 }, "row 15")
    for m in 0..<(rows / 16 * 5) {  // every source-row slot of the tiles, used or not
      for k in 0..<stride {
        let part = { (p: Int) in HalfPrecision.float(fromBF16: parts[at(m, p, k)]) }
        guard m < M, k < K else {
          #expect((0..<3).allSatisfy { parts[at(m, $0, k)] == 0 }, "padding (\(m), \(k))")
          continue
        }
        let sum = Double(part(2)) + Double(part(1)) + Double(part(0))
        let x = Double(values[m * K + k])
        #expect(abs(sum - x) <= abs(x) * 0x1p-26, "value \(x): parts sum to \(sum)")
      }
    }
  }
}
