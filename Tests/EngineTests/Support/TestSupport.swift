import Engine
import Testing

/// A small deterministic generator (SplitMix64), so every test sees the same numbers.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// `count` uniform values in `-scale ... scale`.
func randomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
  var generator = SplitMix64(seed: seed)
  return (0..<count).map { _ in Float.random(in: -scale...scale, using: &generator) }
}

/// The largest elementwise difference, relative to the largest magnitude of the reference
/// (elements near zero from cancellation make a per-element ratio meaningless).
func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
  precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) elements")
  var difference: Float = 0
  var magnitude: Float = 0
  for i in expected.indices {
    if actual[i].isNaN != expected[i].isNaN { return .infinity }
    if expected[i].isNaN { continue }
    difference = max(difference, abs(actual[i] - expected[i]))
    magnitude = max(magnitude, abs(expected[i]))
  }
  return difference / max(magnitude, .leastNormalMagnitude)
}

func expectClose(
  _ actual: [Float],
  _ expected: [Float],
  tolerance: Float = 1e-5,
  _ comment: Comment? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let error = relativeError(actual, expected)
  #expect(error <= tolerance, comment ?? "relative error \(error)", sourceLocation: sourceLocation)
}

/// Central differences of a scalar loss with respect to every element of `x` (which is
/// restored). The loss is accumulated in Double by the caller (ggml's check_gradient style).
func numericalGradient(
  of x: inout [Float],
  step: Float = 1e-2,
  loss: ([Float]) -> Double
) -> [Float] {
  var gradient = [Float](repeating: 0, count: x.count)
  for i in x.indices {
    let saved = x[i]
    x[i] = saved + step
    let plus = loss(x)
    x[i] = saved - step
    let minus = loss(x)
    x[i] = saved
    gradient[i] = Float((plus - minus) / (2 * Double(step)))
  }
  return gradient
}

/// `sum(out · upstream)` in Double: the scalar whose gradient with respect to `out` is
/// `upstream`, so a backward pass fed `dOut = upstream` must match its finite differences.
func weightedSum(_ out: [Float], _ upstream: [Float]) -> Double {
  zip(out, upstream).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

/// Analytic vs numerical gradients: `|a − n| ≤ absolute + relative · |n|` everywhere.
func expectGradient(
  _ analytic: [Float],
  _ numerical: [Float],
  absolute: Float = 2e-3,
  relative: Float = 1e-2,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(analytic.count == numerical.count, sourceLocation: sourceLocation)
  let worst = zip(analytic, numerical).map { abs($0 - $1) - relative * abs($1) }.max() ?? 0
  #expect(worst <= absolute, "gradient mismatch by \(worst)", sourceLocation: sourceLocation)
}

/// fp32 values rounded to bf16 and back (what a bf16 checkpoint would hold).
func bf16Rounded(_ values: [Float]) -> [Float] {
  values.map { HalfPrecision.float(fromBF16: HalfPrecision.bf16(from: $0)) }
}

/// A `WeightView` over bytes that the closure keeps alive.
func withWeights<R>(
  _ values: [Float],
  dtype: WeightView.DType,
  shape: [Int],
  _ body: (WeightView) throws -> R
) throws -> R {
  switch dtype {
  case .f32:
    return try values.withUnsafeBytes { try body(WeightView(bytes: $0, dtype: .f32, shape: shape)) }
  case .bf16:
    let bits = values.map { HalfPrecision.bf16(from: $0) }
    return try bits.withUnsafeBytes { try body(WeightView(bytes: $0, dtype: .bf16, shape: shape)) }
  case .f16:
    let bits = values.map { HalfPrecision.f16(from: $0) }
    return try bits.withUnsafeBytes { try body(WeightView(bytes: $0, dtype: .f16, shape: shape)) }
  }
}
