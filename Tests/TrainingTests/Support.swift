import Training

/// The largest elementwise difference relative to the largest magnitude of the reference.
func relativeError<T: TrainingScalar>(_ actual: [T], _ expected: [Double]) -> Double {
  precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) elements")
  var difference = 0.0
  var magnitude = 0.0
  for i in expected.indices {
    difference = max(difference, abs(Double(actual[i]) - expected[i]))
    magnitude = max(magnitude, abs(expected[i]))
  }
  return difference / max(magnitude, 1e-300)
}

/// |actual − expected| relative to max(|expected|, 1).
func scalarError<T: TrainingScalar>(_ actual: T, _ expected: Double) -> Double {
  abs(Double(actual) - expected) / max(abs(expected), 1)
}

/// Central finite difference of `f` at `x` in coordinate `i`.
func finiteDifference(_ x: [Double], _ i: Int, step: Double = 1e-6, _ f: ([Double]) -> Double)
  -> Double
{
  var plus = x
  var minus = x
  plus[i] += step
  minus[i] -= step
  return (f(plus) - f(minus)) / (2 * step)
}
