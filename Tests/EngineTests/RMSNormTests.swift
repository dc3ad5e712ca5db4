import Engine
import Testing

@Suite struct RMSNormTests {
  @Test func constantRowNormalisesToWeight() {
    let C = 6
    let input = Tensor(shape: [1, C], values: [Float](repeating: 3, count: C))
    let weight = Tensor(shape: [C], values: [1, 2, 3, 4, 5, 6])
    let out = Tensor(shape: [1, C])
    let rstd = Tensor(shape: [1])
    RMSNorm.forward(
      out: out.data,
      rstd: rstd.data,
      in: input.data,
      weight: weight.data,
      eps: 0,
      BT: 1,
      C: C
    )
    // rms of a constant row is the constant, so every element normalises to 1.
    expectClose(out.toArray(), [1, 2, 3, 4, 5, 6], tolerance: 1e-6)
    #expect(abs(rstd[0] - 1.0 / 3) < 1e-7)
  }

  @Test func matchesDoublePrecisionFormula() {
    let (BT, C) = (3, 37)
    let x = randomFloats(BT * C, seed: 1, scale: 4)
    let w = randomFloats(C, seed: 2)
    let eps: Float = 1e-5
    let out = Tensor(shape: [BT, C])
    let rstd = Tensor(shape: [BT])
    RMSNorm.forward(out: out.data, rstd: rstd.data, in: x, weight: w, eps: eps, BT: BT, C: C)
    var expected = [Float]()
    for row in 0..<BT {
      let slice = x[(row * C)..<((row + 1) * C)].map(Double.init)
      let s = 1 / (slice.map { $0 * $0 }.reduce(0, +) / Double(C) + Double(eps)).squareRoot()
      expected += (0..<C).map { Float(Double(w[$0]) * slice[$0] * s) }
    }
    expectClose(out.toArray(), expected)
  }

  @Test func gradientsMatchFiniteDifferences() {
    let (BT, C) = (3, 7)
    var x = randomFloats(BT * C, seed: 3)
    var w = randomFloats(C, seed: 4)
    let upstream = randomFloats(BT * C, seed: 5)
    func loss(_ x: [Float], _ w: [Float]) -> Double {
      var out = [Float](repeating: 0, count: BT * C)
      var rstd = [Float](repeating: 0, count: BT)
      RMSNorm.forward(out: &out, rstd: &rstd, in: x, weight: w, eps: 1e-5, BT: BT, C: C)
      return weightedSum(out, upstream)
    }
    let out = Tensor(shape: [BT, C])
    let rstd = Tensor(shape: [BT])
    RMSNorm.forward(out: out.data, rstd: rstd.data, in: x, weight: w, eps: 1e-5, BT: BT, C: C)
    let dIn = Tensor(shape: [BT, C], values: randomFloats(BT * C, seed: 6))  // overwritten
    let dWeight = Tensor(shape: [C])
    RMSNorm.backward(
      dIn: dIn.data,
      dWeight: dWeight.data,
      dOut: upstream,
      in: x,
      weight: w,
      rstd: rstd.data,
      BT: BT,
      C: C
    )
    let (x0, w0) = (x, w)
    expectGradient(dIn.toArray(), numericalGradient(of: &x) { loss($0, w0) })
    expectGradient(dWeight.toArray(), numericalGradient(of: &w) { loss(x0, $0) })
  }

  @Test func splittingRowsAcrossThreadsChangesNothing() {
    let (BT, C) = (64, 300)
    let x = randomFloats(BT * C, seed: 7)
    let w = randomFloats(C, seed: 8)
    var single = [Float](repeating: .nan, count: BT * C)
    var split = single
    var rstd = [Float](repeating: .nan, count: BT)
    let one = ThreadPool(threadCount: 1)
    let two = ThreadPool(threadCount: 2)
    RMSNorm.forward(out: &single, rstd: &rstd, in: x, weight: w, eps: 1e-6, BT: BT, C: C, pool: one)
    RMSNorm.forward(out: &split, rstd: &rstd, in: x, weight: w, eps: 1e-6, BT: BT, C: C, pool: two)
    #expect(single == split)
  }

  /// Without `dWeight` (the trainer's case) the backward runs 16 lanes at a time across the
  /// pool: the naive reference's input gradients to float summation order.
  @Test func fastBackwardIsTheNaiveOne() {
    let (BT, C) = (37, 96)
    let x = randomFloats(BT * C, seed: 11)
    let w = randomFloats(C, seed: 12)
    let upstream = randomFloats(BT * C, seed: 13)
    var out = [Float](repeating: 0, count: BT * C)
    var rstd = [Float](repeating: 0, count: BT)
    RMSNorm.forward(out: &out, rstd: &rstd, in: x, weight: w, eps: 1e-6, BT: BT, C: C)
    var (fast, naive) = (
      [Float](repeating: .nan, count: BT * C), [Float](repeating: .nan, count: BT * C)
    )
    RMSNorm.backward(
      dIn: &fast,
      dWeight: nil,
      dOut: upstream,
      in: x,
      weight: w,
      rstd: rstd,
      BT: BT,
      C: C,
      pool: ThreadPool(threadCount: 2)
    )
    RMSNorm.backwardNaive(
      dIn: &naive,
      dWeight: nil,
      dOut: upstream,
      in: x,
      weight: w,
      rstd: rstd,
      BT: BT,
      C: C
    )
    let largest = naive.map(abs).max()!
    let worst = zip(fast, naive).map { abs($0 - $1) }.max()!
    #expect(largest > 0 && worst <= 1e-5 * largest)
  }
}
