import Engine
import Testing

@Suite struct LoRABackwardTests {
  /// (M, N, K, r, rows): gathered rows out of order, contiguous rows not starting at 0, all
  /// rows, one row.
  static let cases: [(M: Int, N: Int, K: Int, r: Int, rows: [Int32])] = [
    (6, 7, 9, 2, [4, 1, 3]), (5, 6, 10, 3, [1, 2, 3]), (4, 5, 8, 3, [0, 1, 2, 3]),
    (3, 4, 6, 1, [2]),
  ]

  /// `start + scale · (x·Aᵀ)·Bᵀ` on the listed rows, through the serving forward.
  static func output(
    _ x: [Float],
    _ a: [Float],
    _ b: [Float],
    start: [Float],
    rows: [Int32],
    scale: Float,
    N: Int,
    K: Int,
    r: Int
  ) -> [Float] {
    var out = start
    try? withWeights(a, dtype: .f32, shape: [r, K]) { a in
      try withWeights(b, dtype: .f32, shape: [N, r]) { b in
        rows.withUnsafeBufferPointer { rows in
          LoRA.forward(
            out: &out,
            in: x,
            rows: rows,
            lora: LoRAWeights(a: a, b: b, scale: scale),
            N: N,
            K: K
          )
        }
      }
    }
    return out
  }

  @Test(arguments: cases.indices)
  func gradientsMatchFiniteDifferences(index: Int) {
    let (M, N, K, r, rows) = Self.cases[index]
    let scale: Float = 1.5
    var x = randomFloats(M * K, seed: 1)
    var a = randomFloats(r * K, seed: 2)
    var b = randomFloats(N * r, seed: 3)
    let start = randomFloats(M * N, seed: 4)
    let upstream = randomFloats(M * N, seed: 5)
    func loss(_ x: [Float], _ a: [Float], _ b: [Float]) -> Double {
      weightedSum(
        Self.output(x, a, b, start: start, rows: rows, scale: scale, N: N, K: K, r: r),
        upstream
      )
    }
    // Accumulation: the gradients land on top of what the buffers held.
    let dA0 = randomFloats(r * K, seed: 6)
    let dB0 = randomFloats(N * r, seed: 7)
    let dIn0 = randomFloats(M * K, seed: 8)
    var (dA, dB, dIn) = (dA0, dB0, dIn0)
    rows.withUnsafeBufferPointer { rows in
      LoRA.backward(
        dA: &dA,
        dB: &dB,
        dIn: &dIn,
        dOut: upstream,
        in: x,
        rows: rows,
        a: a,
        b: b,
        scale: scale,
        N: N,
        K: K,
        r: r
      )
    }
    let numericalA = numericalGradient(of: &a) { loss(x, $0, b) }
    let numericalB = numericalGradient(of: &b) { loss(x, a, $0) }
    let numericalX = numericalGradient(of: &x) { loss($0, a, b) }
    expectGradient(zip(dA, dA0).map { $0 - $1 }, numericalA, absolute: 1e-3, relative: 1e-3)
    expectGradient(zip(dB, dB0).map { $0 - $1 }, numericalB, absolute: 1e-3, relative: 1e-3)
    expectGradient(zip(dIn, dIn0).map { $0 - $1 }, numericalX, absolute: 1e-3, relative: 1e-3)
    // Rows not listed get nothing.
    let listed = Set(rows.map(Int.init))
    for m in 0..<M where !listed.contains(m) {
      #expect(Array(dIn[(m * K)..<((m + 1) * K)]) == Array(dIn0[(m * K)..<((m + 1) * K)]))
    }
  }

  /// The sgemm path equals the Double loops, with and without `dIn`, and over more rows.
  @Test func fastMatchesNaive() {
    let extra: [(M: Int, N: Int, K: Int, r: Int, rows: [Int32])] = [
      (40, 33, 70, 8, (0..<40).filter { $0 % 3 != 1 }.map { Int32($0) }),
      (64, 48, 96, 16, (0..<64).map { Int32($0) }),
    ]
    for (M, N, K, r, rows) in Self.cases + extra {
      let (x, a, b) = (
        randomFloats(M * K, seed: 11), randomFloats(r * K, seed: 12), randomFloats(N * r, seed: 13)
      )
      let dOut = randomFloats(M * N, seed: 14)
      var fast = (randomFloats(r * K, seed: 15), randomFloats(N * r, seed: 16))
      var naive = fast
      var dInFast = randomFloats(M * K, seed: 17)
      var dInNaive = dInFast
      rows.withUnsafeBufferPointer { rows in
        LoRA.backward(
          dA: &fast.0,
          dB: &fast.1,
          dIn: &dInFast,
          dOut: dOut,
          in: x,
          rows: rows,
          a: a,
          b: b,
          scale: 0.75,
          N: N,
          K: K,
          r: r
        )
        LoRA.backwardNaive(
          dA: &naive.0,
          dB: &naive.1,
          dIn: &dInNaive,
          dOut: dOut,
          in: x,
          rows: rows,
          a: a,
          b: b,
          scale: 0.75,
          N: N,
          K: K,
          r: r
        )
      }
      expectClose(fast.0, naive.0, tolerance: 1e-5, "dA M \(M) N \(N) K \(K) r \(r)")
      expectClose(fast.1, naive.1, tolerance: 1e-5, "dB M \(M) N \(N) K \(K) r \(r)")
      expectClose(dInFast, dInNaive, tolerance: 1e-5, "dIn M \(M) N \(N) K \(K) r \(r)")
      // Without dIn, dA and dB are the same.
      var alone = (randomFloats(r * K, seed: 15), randomFloats(N * r, seed: 16))
      rows.withUnsafeBufferPointer { rows in
        LoRA.backward(
          dA: &alone.0,
          dB: &alone.1,
          dIn: nil,
          dOut: dOut,
          in: x,
          rows: rows,
          a: a,
          b: b,
          scale: 0.75,
          N: N,
          K: K,
          r: r
        )
      }
      #expect(alone.0 == fast.0 && alone.1 == fast.1)
    }
  }

  /// LoRA dropout: the forward sees x ⊙ mask; dIn carries the mask, dA and dB see the dropped
  /// input. Gathered rows and contiguous rows (which then leave the in-place sgemm path).
  @Test(arguments: [[4, 1, 3], [1, 2, 3]] as [[Int32]])
  func dropoutMatchesFiniteDifferences(rows: [Int32]) {
    let (M, N, K, r, scale): (Int, Int, Int, Int, Float) = (6, 5, 9, 2, 0.5)
    let mask = randomFloats(M * K, seed: 31).map { $0 > -0.3 ? Float(1 / 0.65) : 0 }
    var x = randomFloats(M * K, seed: 32)
    var a = randomFloats(r * K, seed: 33)
    var b = randomFloats(N * r, seed: 34)
    let start = randomFloats(M * N, seed: 35)
    let upstream = randomFloats(M * N, seed: 36)
    func dropped(_ x: [Float]) -> [Float] { zip(x, mask).map { $0 * $1 } }
    func loss(_ x: [Float], _ a: [Float], _ b: [Float]) -> Double {
      let out = Self.output(
        dropped(x),
        a,
        b,
        start: start,
        rows: rows,
        scale: scale,
        N: N,
        K: K,
        r: r
      )
      return weightedSum(out, upstream)
    }
    var fast = ([Float](repeating: 0, count: r * K), [Float](repeating: 0, count: N * r))
    var naive = fast
    var dInFast = [Float](repeating: 0, count: M * K)
    var dInNaive = dInFast
    rows.withUnsafeBufferPointer { rows in
      LoRA.backward(
        dA: &fast.0,
        dB: &fast.1,
        dIn: &dInFast,
        dOut: upstream,
        in: dropped(x),
        rows: rows,
        a: a,
        b: b,
        scale: scale,
        N: N,
        K: K,
        r: r,
        dropoutMask: mask
      )
      LoRA.backwardNaive(
        dA: &naive.0,
        dB: &naive.1,
        dIn: &dInNaive,
        dOut: upstream,
        in: dropped(x),
        rows: rows,
        a: a,
        b: b,
        scale: scale,
        N: N,
        K: K,
        r: r,
        dropoutMask: mask
      )
    }
    expectGradient(
      dInFast,
      numericalGradient(of: &x) { loss($0, a, b) },
      absolute: 1e-3,
      relative: 1e-3
    )
    expectGradient(
      fast.0,
      numericalGradient(of: &a) { loss(x, $0, b) },
      absolute: 1e-3,
      relative: 1e-3
    )
    expectGradient(
      fast.1,
      numericalGradient(of: &b) { loss(x, a, $0) },
      absolute: 1e-3,
      relative: 1e-3
    )
    expectClose(dInFast, dInNaive, tolerance: 1e-5)
    expectClose(fast.0, naive.0, tolerance: 1e-5)
    expectClose(fast.1, naive.1, tolerance: 1e-5)
    #expect(mask.contains(0) && dInFast.contains(0))
  }
}
