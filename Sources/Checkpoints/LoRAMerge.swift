// Folding a LoRA delta into a weight: W (out, in) += scale · B (out, r) · A (r, in), in fp32.
// A plain loop (the reference); the Engine brings the fast path.

public enum LoRAMerge {
  /// `base` converted to fp32 with the delta added.
  public static func merged(_ base: TensorView, _ delta: LoRADelta) throws(CheckpointError)
    -> [Float]
  {
    guard base.shape == [delta.outFeatures, delta.inFeatures] else {
      throw adapterError(
        "\(base.file): tensor '\(base.name)' is \(base.shape), the LoRA delta of '\(delta.module)' is [\(delta.outFeatures), \(delta.inFeatures)]"
      )
    }
    var weight = try base.floats()
    try weight.withUnsafeMutableBufferPointer { (buffer) throws(CheckpointError) in
      try add(delta, to: buffer)
    }
    return weight
  }

  /// Adds scale · B · A to `weight`, an (out, in) row-major fp32 matrix.
  public static func add(_ delta: LoRADelta, to weight: UnsafeMutableBufferPointer<Float>)
    throws(CheckpointError)
  {
    let (rows, cols, rank) = (delta.outFeatures, delta.inFeatures, delta.rank)
    guard weight.count == rows * cols else {
      throw adapterError(
        "LoRA delta of '\(delta.module)' is \(rows)×\(cols); the weight has \(weight.count) elements"
      )
    }
    let a = try delta.a.floats()
    let b = try delta.b.floats()
    for row in 0..<rows {
      for k in 0..<rank {
        let factor = delta.scale * b[row * rank + k]
        if factor == 0 { continue }
        for col in 0..<cols {
          weight[row * cols + col] += factor * a[k * cols + col]
        }
      }
    }
  }
}
