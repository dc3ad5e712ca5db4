// PEFT's `lora_dropout` on an adapter's input (`lora_B(lora_A(dropout(x)))`; the base product
// sees x undropped), with a counter-based mask: element (layer, linear, row, column) of a pass
// seeded `seed` is kept iff a hash of those five numbers (SplitMix64's finalizer) maps to
// u ∈ [0, 1) with u ≥ p; kept elements are scaled by 1 / (1 − p). Nothing is stored: the
// backward regenerates the same mask. Each linear draws its own mask (PEFT gives every LoRA
// module its own `nn.Dropout`), so q, k and v see different masks of the same input.

/// A seeded dropout mask generator for one training pass.
struct LoRADropout: Sendable {
  let probability: Float
  let seed: UInt64

  /// Writes the mask `(T, K)` (0 or 1 / (1 − p)) of layer `l`'s `linear` and `dropped = x ⊙ mask`.
  func apply(
    layer l: Int,
    linear: DecoderLinear,
    x: UnsafePointer<Float>,  // (T, K)
    mask: UnsafeMutablePointer<Float>,  // (T, K)
    dropped: UnsafeMutablePointer<Float>,  // (T, K)
    T: Int,
    K: Int
  ) {
    let keep = 1 / (1 - probability)
    let stream = mix(seed ^ mix(UInt64(l) &* 8 &+ UInt64(linear.rawValue) &+ 0x5bd1_e995))
    for t in 0..<T {
      let rowKey = mix(stream ^ UInt64(t))
      for k in 0..<K {
        let bits = mix(rowKey &+ UInt64(k) &* 0x9e37_79b9_7f4a_7c15)
        let u = Float(bits >> 40) * 0x1p-24  // [0, 1)
        let m: Float = u >= probability ? keep : 0
        mask[t * K + k] = m
        dropped[t * K + k] = x[t * K + k] * m
      }
    }
  }

  /// SplitMix64's output function.
  private func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9e37_79b9_7f4a_7c15
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
}
