/// Global gradient-norm clipping as `torch.nn.utils.clip_grad_norm_` (L2, `foreach` or not):
/// the norm is taken over all tensors together, and every gradient is multiplied by
/// `min(1, maxNorm / (norm + 1e-6))`. Returns the norm before clipping.
///
/// One difference: torch (with `error_if_nonfinite=False`) multiplies the gradients by the NaN
/// or zero coefficient a non-finite norm gives; here a non-finite norm leaves them untouched
/// and is returned, so the trainer can skip the step.
public enum GradientClipping {
  /// `sqrt(Σ g²)` over every element of every buffer, summed in Double.
  public static func norm(_ gradients: [UnsafeBufferPointer<Float>]) -> Double {
    var sum = 0.0
    for buffer in gradients {
      var partial = SIMD8<Double>()
      var i = 0
      let count = buffer.count
      while i + 8 <= count {
        var lanes = SIMD8<Double>()
        for l in 0..<8 { lanes[l] = Double(buffer[i + l]) }
        partial.addProduct(lanes, lanes)
        i += 8
      }
      sum += partial.sum()
      while i < count {
        sum += Double(buffer[i]) * Double(buffer[i])
        i += 1
      }
    }
    return sum.squareRoot()
  }

  /// Scales every buffer in place when the total norm exceeds `maxNorm`; returns the norm.
  @discardableResult
  public static func clip(_ gradients: [UnsafeMutableBufferPointer<Float>], maxNorm: Float) -> Float
  {
    let total = norm(gradients.map { UnsafeBufferPointer($0) })
    guard total.isFinite else { return Float(total) }
    let coefficient = Float(Double(maxNorm) / (total + 1e-6))
    if coefficient < 1 {
      for buffer in gradients {
        for i in buffer.indices { buffer[i] *= coefficient }
      }
    }
    return Float(total)
  }
}
