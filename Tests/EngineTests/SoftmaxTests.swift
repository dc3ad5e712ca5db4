import Engine
import Glibc
import Testing

@Suite struct SoftmaxTests {
  @Test func equalInputsGiveUniform() {
    var out = [Float](repeating: 0, count: 8)
    Softmax.forward(out: &out, in: [Float](repeating: 3.5, count: 8), BT: 2, C: 4)
    #expect(out == [Float](repeating: 0.25, count: 8))
  }

  @Test func largeAndInfiniteLogitsAreStable() {
    var out = [Float](repeating: 0, count: 6)
    Softmax.forward(
      out: &out,
      in: [1000, 1000, -.infinity, 88, -.infinity, -.infinity],
      BT: 2,
      C: 3
    )
    #expect(out == [0.5, 0.5, 0, 1, 0, 0])
  }

  @Test func matchesDoublePrecision() {
    let (BT, C) = (3, 17)
    let x = randomFloats(BT * C, seed: 1, scale: 10)
    var out = [Float](repeating: 0, count: BT * C)
    Softmax.forward(out: &out, in: x, BT: BT, C: C)
    var expected = [Float]()
    for row in 0..<BT {
      let exps = x[(row * C)..<((row + 1) * C)].map { exp(Double($0)) }
      let sum = exps.reduce(0, +)
      expected += exps.map { Float($0 / sum) }
    }
    expectClose(out, expected)
  }

  @Test func gradientMatchesFiniteDifferences() {
    let (BT, C) = (2, 5)
    var x = randomFloats(BT * C, seed: 2, scale: 2)
    let upstream = randomFloats(BT * C, seed: 3)
    var out = [Float](repeating: 0, count: BT * C)
    Softmax.forward(out: &out, in: x, BT: BT, C: C)
    var dIn = [Float](repeating: .nan, count: BT * C)
    Softmax.backward(dIn: &dIn, dOut: upstream, out: out, BT: BT, C: C)
    let numerical = numericalGradient(of: &x) { x in
      var y = [Float](repeating: 0, count: BT * C)
      Softmax.forward(out: &y, in: x, BT: BT, C: C)
      return weightedSum(y, upstream)
    }
    expectGradient(dIn, numerical)
  }
}
