import Engine
import Glibc
import Testing

@Suite struct SwiGLUTests {
  @Test func siluKnownValues() {
    var out = [Float](repeating: .nan, count: 3)
    SiLU.forward(out: &out, in: [0, 1, -2], count: 3)
    expectClose(out, [0, 1 / (1 + expf(-1)), -2 / (1 + expf(2))], tolerance: 1e-6)
  }

  @Test func swigluIsSiluOfGateTimesUp() {
    let count = 13
    let gate = randomFloats(count, seed: 1, scale: 4)
    let up = randomFloats(count, seed: 2, scale: 4)
    var out = [Float](repeating: .nan, count: count)
    var silu = [Float](repeating: .nan, count: count)
    SwiGLU.forward(out: &out, gate: gate, up: up, count: count)
    SiLU.forward(out: &silu, in: gate, count: count)
    expectClose(out, zip(silu, up).map(*), tolerance: 1e-6)
  }

  /// The vector path (`exp8`) against scalar `expf`, across the 8-lane tail and the clamps.
  @Test(arguments: [1, 7, 8, 21, 1000])
  func matchesNaive(count: Int) {
    var gate = randomFloats(count, seed: 10, scale: 12)
    if count > 4 { gate[0...3] = [-150, 150, -88, 90] }
    let up = randomFloats(count, seed: 11, scale: 4)
    var fast = [Float](repeating: .nan, count: count)
    var naive = fast
    SwiGLU.forward(out: &fast, gate: gate, up: up, count: count)
    SwiGLU.forwardNaive(out: &naive, gate: gate, up: up, count: count)
    for i in 0..<count {
      #expect(abs(fast[i] - naive[i]) <= 1e-6 * max(1, abs(naive[i])), "element \(i)")
    }
  }

  @Test func siluGradientMatchesFiniteDifferences() {
    let count = 9
    var x = randomFloats(count, seed: 3, scale: 4)
    let upstream = randomFloats(count, seed: 4)
    var dIn = [Float](repeating: .nan, count: count)
    SiLU.backward(dIn: &dIn, dOut: upstream, in: x, count: count)
    let numerical = numericalGradient(of: &x) { x in
      var y = [Float](repeating: 0, count: count)
      SiLU.forward(out: &y, in: x, count: count)
      return weightedSum(y, upstream)
    }
    expectGradient(dIn, numerical)
  }

  @Test func swigluGradientsMatchFiniteDifferences() {
    let count = 9
    var gate = randomFloats(count, seed: 5, scale: 4)
    var up = randomFloats(count, seed: 6, scale: 4)
    let upstream = randomFloats(count, seed: 7)
    var dGate = [Float](repeating: .nan, count: count)
    var dUp = [Float](repeating: .nan, count: count)
    SwiGLU.backward(dGate: &dGate, dUp: &dUp, dOut: upstream, gate: gate, up: up, count: count)
    func loss(_ gate: [Float], _ up: [Float]) -> Double {
      var y = [Float](repeating: 0, count: count)
      SwiGLU.forward(out: &y, gate: gate, up: up, count: count)
      return weightedSum(y, upstream)
    }
    let (gate0, up0) = (gate, up)
    expectGradient(dGate, numericalGradient(of: &gate) { loss($0, up0) })
    expectGradient(dUp, numericalGradient(of: &up) { loss(gate0, $0) })
  }

  @Test func splittingAcrossThreadsChangesNothing() {
    let count = 5000
    let gate = randomFloats(count, seed: 8, scale: 4)
    let up = randomFloats(count, seed: 9, scale: 4)
    var single = [Float](repeating: .nan, count: count)
    var split = single
    SwiGLU.forward(out: &single, gate: gate, up: up, count: count, pool: ThreadPool(threadCount: 1))
    SwiGLU.forward(out: &split, gate: gate, up: up, count: count, pool: ThreadPool(threadCount: 2))
    #expect(single == split)
    SiLU.forward(out: &single, in: gate, count: count, pool: ThreadPool(threadCount: 1))
    SiLU.forward(out: &split, in: gate, count: count, pool: ThreadPool(threadCount: 2))
    #expect(single == split)
  }

  /// The vector backward (eight lanes, `exp8`, across the pool) against the scalar reference.
  @Test func fastBackwardIsTheNaiveOne() {
    let count = 5003
    let gate = randomFloats(count, seed: 21, scale: 6)
    let up = randomFloats(count, seed: 22, scale: 4)
    let upstream = randomFloats(count, seed: 23)
    var (dGate, dUp) = (
      [Float](repeating: .nan, count: count), [Float](repeating: .nan, count: count)
    )
    var (nGate, nUp) = (dGate, dUp)
    SwiGLU.backward(
      dGate: &dGate,
      dUp: &dUp,
      dOut: upstream,
      gate: gate,
      up: up,
      count: count,
      pool: ThreadPool(threadCount: 2)
    )
    SwiGLU.backwardNaive(dGate: &nGate, dUp: &nUp, dOut: upstream, gate: gate, up: up, count: count)
    for (fast, naive) in [(dGate, nGate), (dUp, nUp)] {
      let largest = naive.map(abs).max()!
      let worst = zip(fast, naive).map { abs($0 - $1) }.max()!
      #expect(largest > 0 && worst <= 1e-5 * largest)
    }
  }
}
