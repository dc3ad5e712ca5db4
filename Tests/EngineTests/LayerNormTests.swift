import Engine
import Testing

@Suite struct LayerNormTests {
  @Test func knownValues() {
    // Row (1, 2, 3, 4): mean 2.5, biased variance 1.25.
    let input = Tensor(shape: [1, 4], values: [1, 2, 3, 4])
    let weight = Tensor(shape: [4], values: [1, 1, 2, 2])
    let bias = Tensor(shape: [4], values: [0, 1, 0, 1])
    let out = Tensor(shape: [1, 4])
    let mean = Tensor(shape: [1])
    let rstd = Tensor(shape: [1])
    LayerNorm.forward(
      out: out.data,
      mean: mean.data,
      rstd: rstd.data,
      in: input.data,
      weight: weight.data,
      bias: bias.data,
      eps: 0,
      BT: 1,
      C: 4
    )
    let s = 1 / Float(1.25).squareRoot()
    expectClose(
      out.toArray(),
      [-1.5 * s, -0.5 * s + 1, 2 * 0.5 * s, 2 * 1.5 * s + 1],
      tolerance: 1e-6
    )
    #expect(mean[0] == 2.5)
    #expect(abs(rstd[0] - s) < 1e-6)
  }

  /// The eight-lane sums against the scalar reference, across the lane edges (C = 1, 7, 8, 13,
  /// 1024) and for a row off zero (mean 10, spread 1: the scalar sum's rounding, ~1e-5 of the
  /// spread, then shows in the outputs).
  @Test(arguments: [1, 7, 8, 13, 1024])
  func matchesNaive(C: Int) {
    let BT = 5
    let x = randomFloats(BT * C, seed: 11).enumerated().map { $0.1 + ($0.0 / C == 3 ? 10 : 0) }
    let weight = randomFloats(C, seed: 12)
    let bias = randomFloats(C, seed: 13)
    var (out, mean, rstd) = (
      [Float](repeating: .nan, count: BT * C), [Float](repeating: .nan, count: BT),
      [Float](repeating: .nan, count: BT)
    )
    var (naive, naiveMean, naiveRstd) = (out, mean, rstd)
    LayerNorm.forward(
      out: &out,
      mean: &mean,
      rstd: &rstd,
      in: x,
      weight: weight,
      bias: bias,
      eps: 1e-5,
      BT: BT,
      C: C
    )
    LayerNorm.forwardNaive(
      out: &naive,
      mean: &naiveMean,
      rstd: &naiveRstd,
      in: x,
      weight: weight,
      bias: bias,
      eps: 1e-5,
      BT: BT,
      C: C
    )
    expectClose(out, naive, tolerance: 1e-4)
    expectClose(mean, naiveMean, tolerance: 1e-5)
    expectClose(rstd, naiveRstd, tolerance: 1e-4)
  }

  @Test func constantRowGivesBias() {
    let C = 5
    let input = Tensor(shape: [1, C], values: [Float](repeating: 1000, count: C))
    let weight = Tensor(shape: [C], values: randomFloats(C, seed: 1))
    let bias = Tensor(shape: [C], values: randomFloats(C, seed: 2))
    let out = Tensor(shape: [1, C])
    let mean = Tensor(shape: [1])
    let rstd = Tensor(shape: [1])
    LayerNorm.forward(
      out: out.data,
      mean: mean.data,
      rstd: rstd.data,
      in: input.data,
      weight: weight.data,
      bias: bias.data,
      eps: 1e-5,
      BT: 1,
      C: C
    )
    expectClose(out.toArray(), bias.toArray(), tolerance: 1e-6)
  }

  @Test func gradientsMatchFiniteDifferences() {
    let (BT, C) = (3, 7)
    var x = randomFloats(BT * C, seed: 3)
    var w = randomFloats(C, seed: 4)
    var b = randomFloats(C, seed: 5)
    let upstream = randomFloats(BT * C, seed: 6)
    func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
      var out = [Float](repeating: 0, count: BT * C)
      var mean = [Float](repeating: 0, count: BT)
      var rstd = [Float](repeating: 0, count: BT)
      LayerNorm.forward(
        out: &out,
        mean: &mean,
        rstd: &rstd,
        in: x,
        weight: w,
        bias: b,
        eps: 1e-5,
        BT: BT,
        C: C
      )
      return weightedSum(out, upstream)
    }
    let out = Tensor(shape: [BT, C])
    let mean = Tensor(shape: [BT])
    let rstd = Tensor(shape: [BT])
    LayerNorm.forward(
      out: out.data,
      mean: mean.data,
      rstd: rstd.data,
      in: x,
      weight: w,
      bias: b,
      eps: 1e-5,
      BT: BT,
      C: C
    )
    let dIn = Tensor(shape: [BT, C], values: randomFloats(BT * C, seed: 7))  // overwritten
    let dWeight = Tensor(shape: [C])
    let dBias = Tensor(shape: [C])
    LayerNorm.backward(
      dIn: dIn.data,
      dWeight: dWeight.data,
      dBias: dBias.data,
      dOut: upstream,
      in: x,
      weight: w,
      mean: mean.data,
      rstd: rstd.data,
      BT: BT,
      C: C
    )
    let (x0, w0, b0) = (x, w, b)
    expectGradient(dIn.toArray(), numericalGradient(of: &x) { loss($0, w0, b0) })
    expectGradient(dWeight.toArray(), numericalGradient(of: &w) { loss(x0, $0, b0) })
    expectGradient(dBias.toArray(), numericalGradient(of: &b) { loss(x0, w0, $0) })
  }

  @Test func splittingRowsAcrossThreadsChangesNothing() {
    let (BT, C) = (64, 300)
    let x = randomFloats(BT * C, seed: 8)
    let w = randomFloats(C, seed: 9)
    let b = randomFloats(C, seed: 10)
    var single = [Float](repeating: .nan, count: BT * C)
    var split = single
    var mean = [Float](repeating: .nan, count: BT)
    var rstd = mean
    let one = ThreadPool(threadCount: 1)
    let two = ThreadPool(threadCount: 2)
    LayerNorm.forward(
      out: &single,
      mean: &mean,
      rstd: &rstd,
      in: x,
      weight: w,
      bias: b,
      eps: 1e-5,
      BT: BT,
      C: C,
      pool: one
    )
    LayerNorm.forward(
      out: &split,
      mean: &mean,
      rstd: &rstd,
      in: x,
      weight: w,
      bias: b,
      eps: 1e-5,
      BT: BT,
      C: C,
      pool: two
    )
    #expect(single == split)
  }
}
