import Engine
import Glibc
import Testing

@Suite struct RoPETests {
  static let (T, NH, HS) = (4, 3, 8)

  @Test func positionZeroIsIdentity() {
    let values = randomFloats(Self.T * Self.NH * Self.HS, seed: 1)
    var x = values
    let positions = [Int32](repeating: 0, count: Self.T)
    RoPE.forward(x: &x, positions: positions, T: Self.T, NH: Self.NH, HS: Self.HS, theta: 10_000)
    #expect(x == values)
  }

  @Test func rotatesFirstHalfAgainstSecondHalf() {
    // HS = 4, theta = 100: pairs (0, 2) turn at 1 rad per position, (1, 3) at 0.1 rad.
    var x: [Float] = [1, 1, 0, 0]
    RoPE.forward(x: &x, positions: [3], T: 1, NH: 1, HS: 4, theta: 100)
    expectClose(x, [cosf(3), cosf(0.3), sinf(3), sinf(0.3)], tolerance: 1e-6)
  }

  @Test func preservesNormOfEveryHead() {
    let (T, NH, HS) = (Self.T, Self.NH, Self.HS)
    let values = randomFloats(T * NH * HS, seed: 2)
    var x = values
    let positions: [Int32] = [0, 7, 100, 4095]
    RoPE.forward(x: &x, positions: positions, T: T, NH: NH, HS: HS, theta: 10_000)
    for head in 0..<(T * NH) {
      let range = (head * HS)..<((head + 1) * HS)
      let before = values[range].map { $0 * $0 }.reduce(0, +)
      let after = x[range].map { $0 * $0 }.reduce(0, +)
      #expect(abs(before - after) <= 1e-5 * before)
    }
  }

  @Test func scoresDependOnlyOnRelativePosition() {
    let HS = 16
    let q = randomFloats(HS, seed: 3)
    let k = randomFloats(HS, seed: 4)
    func score(_ m: Int32, _ n: Int32) -> Float {
      var qm = q
      var kn = k
      RoPE.forward(x: &qm, positions: [m], T: 1, NH: 1, HS: HS, theta: 10_000)
      RoPE.forward(x: &kn, positions: [n], T: 1, NH: 1, HS: HS, theta: 10_000)
      return zip(qm, kn).map(*).reduce(0, +)
    }
    #expect(abs(score(5, 2) - score(13, 10)) < 1e-5)
    #expect(abs(score(5, 2) - score(2, 5)) > 1e-3)  // not symmetric: direction matters
  }

  @Test func linearScalingDividesPositions() {
    let values = randomFloats(Self.NH * Self.HS, seed: 5)
    var scaled = values
    var plain = values
    RoPE.forward(
      x: &scaled,
      positions: [12],
      T: 1,
      NH: Self.NH,
      HS: Self.HS,
      theta: 10_000,
      scalingFactor: 4
    )
    RoPE.forward(x: &plain, positions: [3], T: 1, NH: Self.NH, HS: Self.HS, theta: 10_000)
    expectClose(scaled, plain, tolerance: 1e-6)
  }

  /// The backward is the transpose of the forward rotation: `<R x, y> = <x, Rᵀ y>`, and it
  /// undoes the forward.
  @Test func backwardIsTheAdjoint() {
    let (T, NH, HS) = (Self.T, Self.NH, Self.HS)
    let x = randomFloats(T * NH * HS, seed: 6)
    let y = randomFloats(T * NH * HS, seed: 7)
    let positions: [Int32] = [1, 5, 9, 300]
    var rx = x
    RoPE.forward(
      x: &rx,
      positions: positions,
      T: T,
      NH: NH,
      HS: HS,
      theta: 500_000,
      scalingFactor: 2
    )
    var ry = y
    RoPE.backward(
      dX: &ry,
      positions: positions,
      T: T,
      NH: NH,
      HS: HS,
      theta: 500_000,
      scalingFactor: 2
    )
    #expect(abs(weightedSum(rx, y) - weightedSum(x, ry)) < 1e-4)
    var roundTrip = rx
    RoPE.backward(
      dX: &roundTrip,
      positions: positions,
      T: T,
      NH: NH,
      HS: HS,
      theta: 500_000,
      scalingFactor: 2
    )
    expectClose(roundTrip, x, tolerance: 1e-6)
  }
}
