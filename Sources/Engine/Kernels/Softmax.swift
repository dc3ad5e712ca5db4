import Glibc

/// Row-wise softmax, stable: the row maximum is subtracted before exponentiating, so large
/// logits do not overflow and a row of `-inf` except one entry gives a one-hot row.
public enum Softmax {
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (BT, C)
    in input: UnsafePointer<Float>,  // (BT, C)
    BT: Int,
    C: Int
  ) {
    for row in 0..<BT {
      let x = input + row * C
      let y = out + row * C
      var maximum = -Float.infinity
      for c in 0..<C { maximum = max(maximum, x[c]) }
      var sum: Float = 0
      for c in 0..<C {
        y[c] = expf(x[c] - maximum)
        sum += y[c]
      }
      let normalizer = 1 / sum
      for c in 0..<C { y[c] *= normalizer }
    }
  }

  /// `dIn = out · (dOut − sum(dOut · out))` per row (overwritten); needs only the output.
  public static func backward(
    dIn: UnsafeMutablePointer<Float>,  // (BT, C)
    dOut: UnsafePointer<Float>,  // (BT, C)
    out: UnsafePointer<Float>,  // (BT, C)
    BT: Int,
    C: Int
  ) {
    for row in 0..<BT {
      let y = out + row * C
      let dy = dOut + row * C
      let dx = dIn + row * C
      var inner: Float = 0
      for c in 0..<C { inner += dy[c] * y[c] }
      for c in 0..<C { dx[c] = y[c] * (dy[c] - inner) }
    }
  }
}
