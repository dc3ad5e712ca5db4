import Glibc

/// AdamW as `torch.optim.AdamW` (single-tensor path, `amsgrad=False`, `maximize=False`):
/// per element, at step `t` (1-based, counted before the update),
///
///     θ ← θ · (1 − lr · λ)                         decoupled weight decay
///     m ← β₁ m + (1 − β₁) g
///     v ← β₂ v + (1 − β₂) g²
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// The moments are fp32 buffers parallel to the parameters (llm.c's m_memory / v_memory), zero
/// at step 0. The bias corrections are computed in Double, the update in fp32.
public struct AdamW: Sendable, Equatable {
  public var beta1: Float
  public var beta2: Float
  public var eps: Float
  public var weightDecay: Float

  /// torch's defaults (`betas=(0.9, 0.999)`, `eps=1e-8`, `weight_decay=0.01`).
  public init(
    beta1: Float = 0.9,
    beta2: Float = 0.999,
    eps: Float = 1e-8,
    weightDecay: Float = 0.01
  ) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
    self.weightDecay = weightDecay
  }

  /// One update of `count` parameters; `step` is this update's 1-based number (torch's
  /// `state["step"]` after its increment). `m` and `v` are read and written. Elementwise, so
  /// split across the pool with the same result for any split.
  public func update(
    parameters: UnsafeMutablePointer<Float>,  // (count)
    gradients: UnsafePointer<Float>,  // (count)
    m: UnsafeMutablePointer<Float>,  // (count)
    v: UnsafeMutablePointer<Float>,  // (count)
    count: Int,
    learningRate: Float,
    step: Int,
    pool: ThreadPool = .current
  ) {
    precondition(step >= 1, "AdamW steps are counted from 1, got \(step)")
    let correction1 = 1 - pow(Double(beta1), Double(step))
    let correction2 = 1 - pow(Double(beta2), Double(step))
    // The same operations as torch's kernels, so that only summation order could differ:
    // m.lerp_(g, 1 − β₁), v.mul_(β₂).addcmul_(g, g, 1 − β₂), θ.mul_(1 − lr·λ),
    // θ.addcdiv_(m, √v / √(1 − β₂ᵗ) + ε, −lr / (1 − β₁ᵗ)).
    let stepSize = Float(Double(learningRate) / correction1)
    let root2 = Float(correction2.squareRoot())
    let decay = Float(1 - Double(learningRate) * Double(weightDecay))
    let (w1, b2, w2, eps) = (1 - beta1, beta2, 1 - beta2, self.eps)
    pool.parallelFor(count, minimumChunk: 1 << 16) { range in
      for i in range {
        let g = gradients[i]
        let mi = m[i] + w1 * (g - m[i])
        let vi = v[i] * b2 + w2 * (g * g)
        m[i] = mi
        v[i] = vi
        let denominator = vi.squareRoot() / root2 + eps
        parameters[i] = parameters[i] * decay - stepSize * (mi / denominator)
      }
    }
  }

  /// Reference: the same formulas in Double.
  public func updateNaive(
    parameters: UnsafeMutablePointer<Float>,  // (count)
    gradients: UnsafePointer<Float>,  // (count)
    m: UnsafeMutablePointer<Float>,  // (count)
    v: UnsafeMutablePointer<Float>,  // (count)
    count: Int,
    learningRate: Float,
    step: Int
  ) {
    let (b1, b2, lr) = (Double(beta1), Double(beta2), Double(learningRate))
    for i in 0..<count {
      let g = Double(gradients[i])
      let mi = b1 * Double(m[i]) + (1 - b1) * g
      let vi = b2 * Double(v[i]) + (1 - b2) * g * g
      m[i] = Float(mi)
      v[i] = Float(vi)
      let mHat = mi / (1 - pow(b1, Double(step)))
      let vHat = vi / (1 - pow(b2, Double(step)))
      let theta = Double(parameters[i]) * (1 - lr * Double(weightDecay))
      parameters[i] = Float(theta - lr * mHat / (vHat.squareRoot() + Double(eps)))
    }
  }
}
