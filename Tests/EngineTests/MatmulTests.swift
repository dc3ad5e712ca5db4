import Engine
import Testing

@Suite struct MatmulTests {
  static let shapes: [(M: Int, N: Int, K: Int)] = [
    (1, 1, 1), (3, 5, 7), (17, 33, 65), (9, 64, 128),
  ]

  @Test func sgemmMatchesNaive() {
    for (M, N, K) in Self.shapes {
      let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 1))
      let weight = Tensor(shape: [N, K], values: randomFloats(N * K, seed: 2))
      let bias = Tensor(shape: [N], values: randomFloats(N, seed: 3))
      for useBias in [false, true] {
        for accumulate in [false, true] {
          let start = randomFloats(M * N, seed: 4)
          let fast = Tensor(shape: [M, N], values: start)
          let naive = Tensor(shape: [M, N], values: start)
          let b = useBias ? bias.data : nil
          Matmul.forward(
            out: fast.data,
            in: input.data,
            weight: weight.data,
            bias: b,
            M: M,
            N: N,
            K: K,
            accumulate: accumulate
          )
          Matmul.forwardNaive(
            out: naive.data,
            in: input.data,
            weight: weight.data,
            bias: b,
            M: M,
            N: N,
            K: K,
            accumulate: accumulate
          )
          expectClose(
            fast.toArray(),
            naive.toArray(),
            "M \(M) N \(N) K \(K) bias \(useBias) accumulate \(accumulate)"
          )
        }
      }
    }
  }

  @Test func emptyInnerDimensionGivesBias() {
    let bias = Tensor(shape: [3], values: [1, 2, 3])
    let out = Tensor(shape: [2, 3], values: [9, 9, 9, 9, 9, 9])
    let none = Tensor(shape: [1])
    Matmul.forward(
      out: out.data,
      in: none.data,
      weight: none.data,
      bias: bias.data,
      M: 2,
      N: 3,
      K: 0
    )
    #expect(out.toArray() == [1, 2, 3, 1, 2, 3])
    Matmul.forward(out: out.data, in: none.data, weight: none.data, bias: nil, M: 2, N: 3, K: 0)
    #expect(out.toArray() == [0, 0, 0, 0, 0, 0])
  }

  /// The dispatching overload: GEMV for M ≤ 8, sgemm (on converted blocks for bf16/f16) above.
  @Test(arguments: [WeightView.DType.f32, .bf16, .f16])
  func storedWeightsMatchNaiveOnRoundedValues(dtype: WeightView.DType) throws {
    for (M, N, K) in [(1, 7, 33), (8, 9, 16), (9, 5, 12), (21, 40, 19), (40, 6, 20)] {
      let values = randomFloats(N * K, seed: 5)
      let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 6))
      let bias = Tensor(shape: [N], values: randomFloats(N, seed: 7))
      let fast = Tensor(shape: [M, N])
      try withWeights(values, dtype: dtype, shape: [N, K]) { view in
        Matmul.forward(
          out: fast.data,
          in: input.data,
          weight: view,
          bias: bias.data,
          M: M,
          N: N,
          K: K
        )
        // Exactly the values the stored weights hold, in fp32.
        let rounded = Tensor(shape: [N, K])
        view.convertRows(0..<N, into: rounded.data)
        let naive = Tensor(shape: [M, N])
        Matmul.forwardNaive(
          out: naive.data,
          in: input.data,
          weight: rounded.data,
          bias: bias.data,
          M: M,
          N: N,
          K: K
        )
        expectClose(fast.toArray(), naive.toArray(), "\(dtype) M \(M) N \(N) K \(K)")
      }
    }
  }

  @Test func blockedConversionCoversEveryRow() throws {
    // More rows than one conversion block holds at this K (127 rows of 8193), so several
    // blocks run; M above GEMV's range, so the blocked sgemm path is the one taken.
    let (M, N, K) = (GEMV.maxRows + 1, 300, 8193)
    let values = randomFloats(N * K, seed: 8)
    let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 9))
    let fast = Tensor(shape: [M, N])
    let reference = Tensor(shape: [M, N])
    let rounded = Tensor(shape: [N, K], values: bf16Rounded(values))
    try withWeights(values, dtype: .bf16, shape: [N, K]) { view in
      Matmul.forward(out: fast.data, in: input.data, weight: view, bias: nil, M: M, N: N, K: K)
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
    expectClose(fast.toArray(), reference.toArray())
  }

  @Test func backwardMatchesNaive() {
    for (M, N, K) in Self.shapes {
      let input = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 10))
      let weight = Tensor(shape: [N, K], values: randomFloats(N * K, seed: 11))
      let dOut = Tensor(shape: [M, N], values: randomFloats(M * N, seed: 12))
      // Parameter gradients accumulate onto what is there; dIn is overwritten.
      let startW = randomFloats(N * K, seed: 13)
      let startB = randomFloats(N, seed: 14)
      let dIn = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 15))
      let dWeight = Tensor(shape: [N, K], values: startW)
      let dBias = Tensor(shape: [N], values: startB)
      let naiveDIn = Tensor(shape: [M, K])
      let naiveDWeight = Tensor(shape: [N, K], values: startW)
      let naiveDBias = Tensor(shape: [N], values: startB)
      Matmul.backward(
        dIn: dIn.data,
        dWeight: dWeight.data,
        dBias: dBias.data,
        dOut: dOut.data,
        in: input.data,
        weight: weight.data,
        M: M,
        N: N,
        K: K
      )
      Matmul.backwardNaive(
        dIn: naiveDIn.data,
        dWeight: naiveDWeight.data,
        dBias: naiveDBias.data,
        dOut: dOut.data,
        in: input.data,
        weight: weight.data,
        M: M,
        N: N,
        K: K
      )
      expectClose(dIn.toArray(), naiveDIn.toArray())
      expectClose(dWeight.toArray(), naiveDWeight.toArray())
      expectClose(dBias.toArray(), naiveDBias.toArray())
    }
  }

  @Test func backwardInputThroughBF16MatchesFP32() throws {
    let (M, N, K) = (5, 11, 13)
    let values = randomFloats(N * K, seed: 16)
    let rounded = Tensor(shape: [N, K], values: bf16Rounded(values))
    let dOut = Tensor(shape: [M, N], values: randomFloats(M * N, seed: 17))
    let expected = Tensor(shape: [M, K])
    let actual = Tensor(shape: [M, K], values: randomFloats(M * K, seed: 18))
    Matmul.backwardNaive(
      dIn: expected.data,
      dWeight: nil,
      dBias: nil,
      dOut: dOut.data,
      in: expected.data,
      weight: rounded.data,
      M: M,
      N: N,
      K: K
    )
    try withWeights(values, dtype: .bf16, shape: [N, K]) { view in
      Matmul.backwardInput(dIn: actual.data, dOut: dOut.data, weight: view, M: M, N: N, K: K)
    }
    expectClose(actual.toArray(), expected.toArray())
  }

  @Test func gradientsMatchFiniteDifferences() {
    let (M, N, K) = (3, 4, 5)
    var x = randomFloats(M * K, seed: 19)
    var w = randomFloats(N * K, seed: 20)
    var b = randomFloats(N, seed: 21)
    let upstream = randomFloats(M * N, seed: 22)
    func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
      var out = [Float](repeating: 0, count: M * N)
      Matmul.forward(out: &out, in: x, weight: w, bias: b, M: M, N: N, K: K)
      return weightedSum(out, upstream)
    }
    let dIn = Tensor(shape: [M, K])
    let dWeight = Tensor(shape: [N, K])
    let dBias = Tensor(shape: [N])
    Matmul.backward(
      dIn: dIn.data,
      dWeight: dWeight.data,
      dBias: dBias.data,
      dOut: upstream,
      in: x,
      weight: w,
      M: M,
      N: N,
      K: K
    )
    let (w0, b0, x0) = (w, b, x)
    expectGradient(dIn.toArray(), numericalGradient(of: &x) { loss($0, w0, b0) })
    expectGradient(dWeight.toArray(), numericalGradient(of: &w) { loss(x0, $0, b0) })
    expectGradient(dBias.toArray(), numericalGradient(of: &b) { loss(x0, w0, $0) })
  }
}
