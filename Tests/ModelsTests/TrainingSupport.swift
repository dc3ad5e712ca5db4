// Helpers of the decoder training tests: a tiny sequence with image rows, random LoRA values,
// and central differences in fp32.
import Engine

@testable import Models

enum TrainingSupport {
  /// `T` tokens: BOS, `imageRows` image tokens at 2 ..< 2 + imageRows, text tokens after.
  static func tokens(T: Int, imageRows: Int, seed: UInt64) -> [Int32] {
    var generator = SeededGenerator(seed: seed)
    var tokens = (0..<T).map { _ in Int32(3 + generator.next() % 500) }
    tokens[0] = 1
    for t in 2..<(2 + imageRows) { tokens[t] = 640 }
    return tokens
  }

  /// Uniform values in ±`scale`.
  static func values(_ count: Int, scale: Float, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in (Float(generator.next() >> 40) * 0x1p-24 * 2 - 1) * scale }
  }

  /// Fills every parameter (A, B, head) with random values so that no gradient vanishes.
  static func randomize(_ set: borrowing TrainableParameters, seed: UInt64) {
    let random = values(set.count, scale: 0.3, seed: seed)
    for i in 0..<set.count { set.parameters.data[i] = random[i] }
  }

  /// Largest |analytic − numeric| over the `picks` coordinates of `segment` with the largest
  /// analytic gradient, relative to the largest of those gradients. `loss` re-runs the forward.
  static func worstRelativeError(
    _ set: borrowing TrainableParameters,
    segment: TrainableParameters.Segment,
    picks: Int = 4,
    epsilon: Float = 1e-2,
    loss: (borrowing TrainableParameters) throws -> Double
  ) rethrows -> Double {
    let grads = set.gradients(segment)
    let order = (0..<segment.count).sorted { abs(grads[$0]) > abs(grads[$1]) }.prefix(picks)
    let largest = Double(abs(grads[order.first!]))
    var worst = 0.0
    for i in order {
      let p = set.parameters(segment) + i
      let saved = p.pointee
      p.pointee = saved + epsilon
      let plus = try loss(set)
      p.pointee = saved - epsilon
      let minus = try loss(set)
      p.pointee = saved
      let numeric = (plus - minus) / (2 * Double(epsilon))
      worst = max(worst, abs(numeric - Double(grads[i])) / max(largest, 1e-6))
    }
    return worst
  }
}
