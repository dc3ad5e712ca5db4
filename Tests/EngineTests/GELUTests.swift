import Engine
import Testing

@Suite struct GELUTests {
  @Test func exactKnownValues() {
    var out = [Float](repeating: .nan, count: 4)
    GELU.forward(out: &out, in: [0, 1, -1, 3], count: 4)
    // x · Φ(x) with Φ(1) = 0.841344746, Φ(3) = 0.998650102.
    expectClose(out, [0, 0.841_344_75, -0.158_655_25, 2.995_950_3], tolerance: 1e-6)
  }

  @Test func tanhApproximationIsClose() {
    let x = randomFloats(50, seed: 1, scale: 5)
    var exact = [Float](repeating: .nan, count: 50)
    var approximate = exact
    GELU.forward(out: &exact, in: x, count: 50)
    GELU.forward(out: &approximate, in: x, count: 50, approximation: .tanh)
    // The approximation is within ~1e-3 absolute everywhere.
    #expect(zip(exact, approximate).allSatisfy { abs($0 - $1) < 1e-3 })
    var one = [Float](repeating: .nan, count: 1)
    GELU.forward(out: &one, in: [1], count: 1, approximation: .tanh)
    expectClose(one, [0.841_191_99], tolerance: 1e-6)
  }

  @Test func quickGELUKnownValues() {
    var out = [Float](repeating: .nan, count: 3)
    QuickGELU.forward(out: &out, in: [0, 1, -2], count: 3)
    expectClose(out, [0, 0.845_795_77, -0.064_341_377], tolerance: 1e-6)
  }

  @Test(arguments: [GELU.Approximation.none, .tanh])
  func geluGradientMatchesFiniteDifferences(approximation: GELU.Approximation) {
    let count = 11
    var x = randomFloats(count, seed: 2, scale: 4)
    let upstream = randomFloats(count, seed: 3)
    var dIn = [Float](repeating: .nan, count: count)
    GELU.backward(dIn: &dIn, dOut: upstream, in: x, count: count, approximation: approximation)
    let numerical = numericalGradient(of: &x) { x in
      var y = [Float](repeating: 0, count: count)
      GELU.forward(out: &y, in: x, count: count, approximation: approximation)
      return weightedSum(y, upstream)
    }
    expectGradient(dIn, numerical)
  }

  /// The `exp8` path against libm's `expf`, including lanes that saturate (|1.702 x| > 87).
  @Test func quickGELUMatchesReference() {
    let count = 1003
    let x = randomFloats(count, seed: 7, scale: 8) + [0, -60, 60, -1e4, 1e4]
    var fast = [Float](repeating: .nan, count: x.count)
    var naive = fast
    QuickGELU.forward(out: &fast, in: x, count: x.count)
    QuickGELU.forwardNaive(out: &naive, in: x, count: x.count)
    for i in x.indices {
      #expect(abs(fast[i] - naive[i]) <= 1e-6 * max(1, abs(naive[i])), "x = \(x[i])")
    }
  }

  @Test func quickGELUGradientMatchesFiniteDifferences() {
    let count = 11
    var x = randomFloats(count, seed: 4, scale: 4)
    let upstream = randomFloats(count, seed: 5)
    var dIn = [Float](repeating: .nan, count: count)
    QuickGELU.backward(dIn: &dIn, dOut: upstream, in: x, count: count)
    let numerical = numericalGradient(of: &x) { x in
      var y = [Float](repeating: 0, count: count)
      QuickGELU.forward(out: &y, in: x, count: count)
      return weightedSum(y, upstream)
    }
    expectGradient(dIn, numerical)
  }

  @Test func splittingAcrossThreadsChangesNothing() {
    let count = 5000
    let x = randomFloats(count, seed: 6, scale: 4)
    var single = [Float](repeating: .nan, count: count)
    var split = single
    GELU.forward(out: &single, in: x, count: count, pool: ThreadPool(threadCount: 1))
    GELU.forward(out: &split, in: x, count: count, pool: ThreadPool(threadCount: 2))
    #expect(single == split)
    QuickGELU.forward(out: &single, in: x, count: count, pool: ThreadPool(threadCount: 1))
    QuickGELU.forward(out: &split, in: x, count: count, pool: ThreadPool(threadCount: 2))
    #expect(single == split)
  }
}
