import Engine
import Testing

@Suite struct GEMVTests {
  /// Odd sizes exercise the scalar tails (K not a multiple of 8 or 32, M not a multiple of 4).
  static let shapes: [(M: Int, N: Int, K: Int)] = [
    (1, 1, 1), (1, 7, 33), (1, 64, 256), (2, 5, 9), (3, 11, 40), (4, 3, 8), (5, 17, 71),
    (8, 9, 100), (7, 18, 45), (32, 13, 64),
  ]

  @Test(arguments: [WeightView.DType.f32, .bf16, .f16])
  func matchesNaive(dtype: WeightView.DType) throws {
    for (M, N, K) in Self.shapes {
      let values = randomFloats(N * K, seed: 1)
      let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 2))
      let bias = Tensor(shape: [N], values: randomFloats(N, seed: 3))
      try withWeights(values, dtype: dtype, shape: [N, K]) { view in
        for accumulate in [false, true] {
          let start = randomFloats(M * N, seed: 4)
          let fast = Tensor(shape: [M, N], values: start)
          let naive = Tensor(shape: [M, N], values: start)
          GEMV.forward(
            out: fast.data,
            in: input.data,
            weight: view,
            bias: bias.data,
            M: M,
            N: N,
            K: K,
            accumulate: accumulate
          )
          GEMV.forwardNaive(
            out: naive.data,
            in: input.data,
            weight: view,
            bias: bias.data,
            M: M,
            N: N,
            K: K,
            accumulate: accumulate
          )
          expectClose(
            fast.toArray(),
            naive.toArray(),
            "\(dtype) M \(M) N \(N) K \(K) accumulate \(accumulate)"
          )
        }
      }
    }
  }

  /// The decode kernel over bf16 weights equals the fp32 sgemm over the same (rounded) values.
  @Test func bf16MatchesSgemmOnRoundedWeights() throws {
    for (M, N, K) in Self.shapes {
      let values = randomFloats(N * K, seed: 5)
      let rounded = Tensor(shape: [N, K], values: bf16Rounded(values))
      let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 6))
      let decoded = Tensor(shape: [M, N])
      let reference = Tensor(shape: [M, N])
      try withWeights(values, dtype: .bf16, shape: [N, K]) { view in
        GEMV.forward(out: decoded.data, in: input.data, weight: view, bias: nil, M: M, N: N, K: K)
      }
      Matmul.forward(
        out: reference.data,
        in: input.data,
        weight: rounded.data,
        bias: nil,
        M: M,
        N: N,
        K: K
      )
      expectClose(decoded.toArray(), reference.toArray(), "M \(M) N \(N) K \(K)")
    }
  }

  @Test(arguments: [1, 2, 3])
  func resultDoesNotDependOnThreadCount(threads: Int) throws {
    let (M, N, K) = (3, 37, 300)  // enough work per row range to split
    let values = randomFloats(N * K, seed: 7)
    let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 8))
    let single = Tensor(shape: [M, N])
    let split = Tensor(shape: [M, N])
    try withWeights(values, dtype: .bf16, shape: [N, K]) { view in
      GEMV.forward(
        out: single.data,
        in: input.data,
        weight: view,
        bias: nil,
        M: M,
        N: N,
        K: K,
        pool: ThreadPool(threadCount: 1)
      )
      GEMV.forward(
        out: split.data,
        in: input.data,
        weight: view,
        bias: nil,
        M: M,
        N: N,
        K: K,
        pool: ThreadPool(threadCount: threads)
      )
    }
    // Each output is computed by one thread in a fixed order: bit-identical.
    #expect(single.toArray() == split.toArray())
  }

  @Test func readsUnalignedRowsOfOddLength() throws {
    // K = 3 bf16 elements: rows start at 6-byte offsets, so SIMD loads must be unaligned.
    let (N, K) = (9, 3)
    let values = randomFloats(N * K, seed: 9)
    let input = Tensor(shape: [1, K], values: [1, -2, 0.5])
    let out = Tensor(shape: [1, N])
    try withWeights(values, dtype: .bf16, shape: [N, K]) { view in
      GEMV.forward(out: out.data, in: input.data, weight: view, bias: nil, M: 1, N: N, K: K)
    }
    let rounded = bf16Rounded(values)
    let expected = (0..<N).map { n in
      rounded[n * K] - 2 * rounded[n * K + 1] + 0.5 * rounded[n * K + 2]
    }
    expectClose(out.toArray(), expected)
  }
}
