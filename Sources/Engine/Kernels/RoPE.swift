import Glibc

/// Rotary position embedding in LLaMA's "rotate half" convention (Hugging Face
/// `apply_rotary_pos_emb`): within each head, element `i` of the first half pairs with element
/// `i + HS/2` of the second half (not adjacent pairs, as in the original paper and llama.cpp's
/// "normal" mode). For `i < HS/2`, with `angle = position · invFreq[i]`:
///
///     out[i]        = x[i] · cos(angle) − x[i + HS/2] · sin(angle)
///     out[i + HS/2] = x[i + HS/2] · cos(angle) + x[i] · sin(angle)
///
/// `invFreq[i] = 1 / theta^(2i / HS) / scalingFactor` ("linear" rope scaling divides the
/// frequencies, i.e. the positions, by the factor). Angles are computed in fp32 the way
/// transformers does (`inv_freq` in fp32, times the position as fp32), so results match it.
public enum RoPE {
  /// Rotates `x` in place. `positions` are absolute (the KV-cache offset included), one per row.
  public static func forward(
    x: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    positions: UnsafePointer<Int32>,  // (T)
    T: Int,
    NH: Int,
    HS: Int,
    theta: Float,
    scalingFactor: Float = 1
  ) {
    rotate(
      x: x,
      positions: positions,
      T: T,
      NH: NH,
      HS: HS,
      theta: theta,
      scalingFactor: scalingFactor,
      direction: 1
    )
  }

  /// The rotation is orthogonal, so the gradient is the inverse rotation of `dOut`:
  /// `dX` holds `dOut` on entry and is overwritten with the input gradient.
  public static func backward(
    dX: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    positions: UnsafePointer<Int32>,  // (T)
    T: Int,
    NH: Int,
    HS: Int,
    theta: Float,
    scalingFactor: Float = 1
  ) {
    rotate(
      x: dX,
      positions: positions,
      T: T,
      NH: NH,
      HS: HS,
      theta: theta,
      scalingFactor: scalingFactor,
      direction: -1
    )
  }

  /// `1 / theta^(2i / HS) / scalingFactor` for `i < HS/2`, in fp32 as transformers computes it.
  public static func inverseFrequency(_ i: Int, HS: Int, theta: Float, scalingFactor: Float)
    -> Float
  {
    1 / powf(theta, Float(2 * i) / Float(HS)) / scalingFactor
  }

  private static func rotate(
    x: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    positions: UnsafePointer<Int32>,  // (T)
    T: Int,
    NH: Int,
    HS: Int,
    theta: Float,
    scalingFactor: Float,
    direction: Float
  ) {
    precondition(HS % 2 == 0, "RoPE needs an even head size, got \(HS)")
    let half = HS / 2
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, HS * 2)) { table in
      let invFreq = table.baseAddress!  // (HS/2)
      let cosine = invFreq + half  // (HS/2)
      let sine = cosine + half  // (HS/2)
      for i in 0..<half {
        invFreq[i] = inverseFrequency(i, HS: HS, theta: theta, scalingFactor: scalingFactor)
      }
      for t in 0..<T {
        // One table per position, shared by every head.
        let position = Float(positions[t])
        for i in 0..<half {
          let angle = position * invFreq[i]
          cosine[i] = cosf(angle)
          sine[i] = direction * sinf(angle)
        }
        for h in 0..<NH {
          let head = x + (t * NH + h) * HS
          for i in 0..<half {
            let first = head[i]
            let second = head[i + half]
            head[i] = first * cosine[i] - second * sine[i]
            head[i + half] = second * cosine[i] + first * sine[i]
          }
        }
      }
    }
  }
}
