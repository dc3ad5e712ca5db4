import CKernels
import Foundation
import Testing

@testable import Engine

/// `precision: bf16` products (AVX512-BF16 C kernel over packed panels) against the reference
/// that rounds each activation to bf16 and sums in Double. They run only where the CPU has
/// AVX512-BF16 (Zen 4/5, Sapphire Rapids); packing is checked on any CPU.
@Suite struct BF16ProductsTests {
  /// M across the 12-row tile (1, tails, exactly 12, several tiles); N across the 32-column
  /// panel (1, 31, 32, 33, 70: masked tails); K odd and even, below and above 32.
  static let rows = [1, 2, 5, 12, 13, 25, 40]
  static let sizes: [(N: Int, K: Int)] = [(1, 1), (31, 7), (32, 64), (33, 130), (70, 33)]

  /// The product by the kernel or the reference, into `start`.
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
    let out = Tensor(shape: [M, N], values: start)
    if naive {
      BF16Products.forwardNaive(
        out: out.data,
        in: input,
        weight: view,
        bias: bias,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate
      )
    } else {
      Matmul.forward(
        out: out.data,
        in: input,
        weight: view,
        bias: bias,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate
      )
    }
    return out.toArray()
  }

  /// `bf16(input) · Wᵀ` by the kernel, no bias, into zeros.
  static func kernel(_ view: WeightView, _ input: [Float], M: Int, N: Int, K: Int) -> [Float] {
    product(
      naive: false,
      view,
      input: input,
      bias: nil,
      start: Array(repeating: 0, count: M * N),
      M: M,
      N: N,
      K: K,
      accumulate: false
    )
  }

  /// `body` with `values` as a bf16 weight with panels attached (`splitting`: for the exact
  /// fp32 products on them, BF16SplitTests).
  static func withPanels<R>(
    _ values: [Float],
    shape: [Int],
    splitting: Bool = false,
    _ body: (WeightView) throws -> R
  ) throws -> R {
    try withWeights(values, dtype: .bf16, shape: shape) { view in
      let bytes = BF16Products.panelByteCount(rows: view.rows, columns: view.columns)
      let panels = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 2), alignment: 64)
      defer { panels.deallocate() }
      return try body(BF16Products.pack(view, into: panels, splitting: splitting))
    }
  }

  /// The kernel (`product(false, …)`) against its reference (`product(true, …)`) over every M
  /// of `rows`, (N, K) of `sizes`, with and without bias, overwriting and accumulating.
  static func expectMatchesReference(
    rows: [Int] = rows,
    sizes: [(N: Int, K: Int)] = sizes,
    seed: UInt64,
    tolerance: Float,
    splitting: Bool = false,
    product: (
      _ naive: Bool, _ view: WeightView, _ input: [Float], _ bias: UnsafePointer<Float>?,
      _ start: [Float], _ M: Int, _ N: Int, _ K: Int, _ accumulate: Bool
    ) -> [Float]
  ) throws {
    for M in rows {
      for (N, K) in sizes {
        let input = randomFloats(M * K, seed: seed)
        let start = randomFloats(M * N, seed: seed + 1)
        let biasValues = Tensor(shape: [N], values: randomFloats(N, seed: seed + 2))
        let values = randomFloats(N * K, seed: seed + 3)
        try withPanels(values, shape: [N, K], splitting: splitting) { view in
          #expect(view.splitsActivations == splitting)
          for withBias in [false, true] {
            let bias = withBias ? biasValues.data : nil
            for accumulate in [false, true] {
              let kernel = product(false, view, input, bias, start, M, N, K, accumulate)
              let reference = product(true, view, input, bias, start, M, N, K, accumulate)
              expectClose(kernel, reference, tolerance: tolerance, "M \(M) N \(N) K \(K)")
            }
          }
        }
      }
    }
  }

  @Test(.enabled(if: BF16Products.isSupported))
  func matchesNaive() throws {
    try Self.expectMatchesReference(seed: 21, tolerance: 2e-6) {
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

  /// A row's output is bit-identical whatever else is in the batch (same summation order for
  /// every M and tile position), so batched decode equals decode alone exactly.
  @Test(.enabled(if: BF16Products.isSupported))
  func rowsDoNotDependOnTheBatch() throws {
    let (M, N, K) = (29, 70, 300)
    let input = randomFloats(M * K, seed: 31)
    try Self.withPanels(randomFloats(N * K, seed: 32), shape: [N, K]) { view in
      let all = Self.kernel(view, input, M: M, N: N, K: K)
      for m in [0, 11, 12, 28] {
        let alone = Self.kernel(view, Array(input[(m * K)..<((m + 1) * K)]), M: 1, N: N, K: K)
        #expect(alone == Array(all[(m * N)..<((m + 1) * N)]), "row \(m)")
      }
    }
  }

  /// Against the exact fp32 products the difference is bf16's rounding of the activations.
  @Test(.enabled(if: BF16Products.isSupported))
  func closeToFP32Products() throws {
    let (M, N, K) = (40, 64, 2048)
    let input = randomFloats(M * K, seed: 41)
    try Self.withPanels(randomFloats(N * K, seed: 42), shape: [N, K]) { view in
      let bf16 = Self.kernel(view, input, M: M, N: N, K: K)
      let exact = Tensor(shape: [M, N])
      GEMV.forwardNaive(out: exact.data, in: input, weight: view, bias: nil, M: M, N: N, K: K)
      let error = relativeError(bf16, exact.toArray())
      #expect(error > 0 && error < 1e-2, "relative error \(error)")
    }
  }

  /// The kernel's rounding is `HalfPrecision.bf16(from:)` (nearest, ties to even), including
  /// exact ties and values that round up into the next binade.
  @Test(.enabled(if: BF16Products.isSupported))
  func roundingMatchesReference() {
    var values = randomFloats(1000, seed: 51, scale: 100)
    values += [1.0, -1.0, 0, 3.0e38, -2.5e-3]
    values += [0x3F80_8000, 0x3F81_8000, 0x3F80_7FFF, 0x3FFF_FFFF].map { Float(bitPattern: $0) }
    var out = [UInt16](repeating: 0, count: values.count)
    ckernels_bf16_round(&out, values, values.count)
    #expect(out == values.map { HalfPrecision.bf16(from: $0) })
  }

  /// The panel layout, element by element (padding columns and the odd-K pair are zeros).
  @Test func packingLayout() throws {
    let (N, K) = (33, 5)
    let values = (0..<(N * K)).map { Float($0 % 97) }
    try Self.withPanels(values, shape: [N, K]) { view in
      let panels = view.bf16Panels!.assumingMemoryBound(to: UInt16.self)
      let pairs = (K + 1) / 2
      #expect(BF16Products.panelByteCount(rows: N, columns: K) == 2 * pairs * 32 * 2 * 2)
      for p in 0..<2 {
        for kp in 0..<pairs {
          for c in 0..<32 {
            for e in 0..<2 {
              let (n, k) = (32 * p + c, 2 * kp + e)
              let expected = n < N && k < K ? HalfPrecision.bf16(from: values[n * K + k]) : 0
              #expect(panels[p * pairs * 64 + kp * 64 + c * 2 + e] == expected)
            }
          }
        }
      }
    }
  }
}
