/// The residual stream: `out = a + b`.
public enum Residual {
  /// `out` may alias `a` or `b` (in-place update of the stream).
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (BT, C)
    a: UnsafePointer<Float>,  // (BT, C)
    b: UnsafePointer<Float>,  // (BT, C)
    count: Int  // BT · C
  ) {
    for i in 0..<count { out[i] = a[i] + b[i] }
  }

  /// The gradient flows unchanged to both branches. Residual gradients accumulate (`+=`): the
  /// stream's gradient is the sum over every block that reads it.
  public static func backward(
    dA: UnsafeMutablePointer<Float>,  // (BT, C)
    dB: UnsafeMutablePointer<Float>,  // (BT, C)
    dOut: UnsafePointer<Float>,  // (BT, C)
    count: Int  // BT · C
  ) {
    for i in 0..<count {
      dA[i] += dOut[i]
      dB[i] += dOut[i]
    }
  }
}
