import Engine
import Testing

@Suite struct LoRAKernelTests {
  /// (M, N, K, r, rows): gathered rows in any order, contiguous rows, every row, one row, and
  /// more rows than GEMV takes (sgemm path).
  static let cases: [(M: Int, N: Int, K: Int, r: Int, rows: [Int32])] = [
    (6, 7, 9, 2, [4, 1, 3]), (5, 16, 33, 4, [1, 2, 3]), (4, 5, 8, 3, [0, 1, 2, 3]),
    (3, 11, 40, 1, [2]), (40, 9, 17, 5, (0..<40).filter { $0 % 3 != 1 }.map { Int32($0) }),
  ]

  @Test(arguments: [WeightView.DType.f32, .bf16])
  func matchesReference(dtype: WeightView.DType) throws {
    for (M, N, K, r, rows) in Self.cases {
      let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 1))
      let start = randomFloats(M * N, seed: 2)
      let fast = Tensor(shape: [M, N], values: start)
      let naive = Tensor(shape: [M, N], values: start)
      try withWeights(randomFloats(r * K, seed: 3), dtype: dtype, shape: [r, K]) { a in
        try withWeights(randomFloats(N * r, seed: 4), dtype: dtype, shape: [N, r]) { b in
          let lora = LoRAWeights(a: a, b: b, scale: 1.5)
          rows.withUnsafeBufferPointer { rows in
            LoRA.forward(out: fast.data, in: input.data, rows: rows, lora: lora, N: N, K: K)
            LoRA.forwardNaive(
              out: naive.data,
              in: input.data,
              rows: rows,
              lora: lora,
              N: N,
              K: K
            )
          }
        }
      }
      expectClose(fast.toArray(), naive.toArray(), tolerance: 1e-5, "M \(M) N \(N) K \(K) r \(r)")
      // Rows not listed are untouched.
      let listed = Set(rows.map(Int.init))
      for m in 0..<M where !listed.contains(m) {
        #expect(
          Array(fast.toArray()[(m * N)..<((m + 1) * N)]) == Array(start[(m * N)..<((m + 1) * N)])
        )
      }
    }
  }

  /// Several adapters on disjoint rows (decode-sized groups run in parallel; a large group
  /// sends them all down the sequential path) equal each adapter's naive delta.
  @Test(arguments: [0, 1, 2])
  func groupsMatchReference(kind: Int) throws {
    // Decode-sized groups, one large group (sequential), one group split between threads.
    let (M, N, K) = ([12, 60, 12][kind], 10, 24)
    let groups: [[Int32]] = [
      [[0, 3, 6, 9], [1, 4], [2, 11, 7], [10]],
      [(0..<40).map { Int32($0) }, [41, 45], [50, 59, 42]],
      [[1, 2, 3, 4, 5, 9, 11]],
    ][kind]
    let ranks = [2, 3, 1, 4]
    let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 5))
    let start = randomFloats(M * N, seed: 6)
    let fast = Tensor(shape: [M, N], values: start)
    let naive = Tensor(shape: [M, N], values: start)
    let values = groups.indices.map { g in
      (randomFloats(ranks[g] * K, seed: UInt64(10 + g)), randomFloats(N * ranks[g], seed: 20))
    }
    // The views borrow `values`' storage, which outlives them.
    let loras = try groups.indices.map { g in
      try values[g].0.withUnsafeBytes { a in
        try values[g].1.withUnsafeBytes { b in
          LoRAWeights(
            a: try WeightView(bytes: a, dtype: .f32, shape: [ranks[g], K]),
            b: try WeightView(bytes: b, dtype: .f32, shape: [N, ranks[g]]),
            scale: Float(g) + 0.5
          )
        }
      }
    }
    withExtendedLifetime(values) {
      LoRA.forward(out: fast.data, in: input.data, groups: groups, loras: loras, N: N, K: K)
      for g in groups.indices {
        groups[g].withUnsafeBufferPointer {
          LoRA.forwardNaive(out: naive.data, in: input.data, rows: $0, lora: loras[g], N: N, K: K)
        }
      }
    }
    expectClose(fast.toArray(), naive.toArray(), tolerance: 1e-5)
  }
}
