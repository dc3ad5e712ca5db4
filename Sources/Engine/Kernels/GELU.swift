import Glibc

/// GELU, `x · Φ(x)`: exact with `erf` (transformers' "gelu", the LLaVA projector's default) or
/// with the tanh approximation ("gelu_pytorch_tanh", "gelu_new").
public enum GELU {
  public enum Approximation: Sendable {
    /// `0.5 · x · (1 + erf(x / √2))`.
    case none
    /// `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`.
    case tanh
  }

  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (count)
    in input: UnsafePointer<Float>,  // (count)
    count: Int,
    approximation: Approximation = .none,
    pool: ThreadPool = .current
  ) {
    pool.parallelFor(count, minimumChunk: elementwiseChunk) { range in
      switch approximation {
      case .none:
        for i in range { out[i] = 0.5 * input[i] * (1 + erff(input[i] * inverseSqrt2)) }
      case .tanh:
        for i in range {
          let x = input[i]
          out[i] = 0.5 * x * (1 + tanhf(sqrt2OverPi * (x + 0.044715 * x * x * x)))
        }
      }
    }
  }

  /// `dIn = dOut · gelu'(x)` (overwritten).
  public static func backward(
    dIn: UnsafeMutablePointer<Float>,  // (count)
    dOut: UnsafePointer<Float>,  // (count)
    in input: UnsafePointer<Float>,  // (count)
    count: Int,
    approximation: Approximation = .none
  ) {
    switch approximation {
    case .none:
      // Φ(x) + x · φ(x), with φ the standard normal density.
      for i in 0..<count {
        let x = input[i]
        let cdf = 0.5 * (1 + erff(x * inverseSqrt2))
        let pdf = expf(-0.5 * x * x) * inverseSqrt2Pi
        dIn[i] = dOut[i] * (cdf + x * pdf)
      }
    case .tanh:
      for i in 0..<count {
        let x = input[i]
        let u = sqrt2OverPi * (x + 0.044715 * x * x * x)
        let t = tanhf(u)
        let du = sqrt2OverPi * (1 + 3 * 0.044715 * x * x)
        dIn[i] = dOut[i] * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
      }
    }
  }

  static let inverseSqrt2: Float = 0.707_106_77
  static let inverseSqrt2Pi: Float = 0.398_942_3
  static let sqrt2OverPi: Float = 0.797_884_6
}

/// OpenAI CLIP's activation ("quick_gelu"): `x · sigmoid(1.702 · x)`.
public enum QuickGELU {
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (count)
    in input: UnsafePointer<Float>,  // (count)
    count: Int,
    pool: ThreadPool = .current
  ) {
    // Eight lanes at a time through `exp8` (< 2e-7 relative; libm's scalar `expf` made this
    // ~15 % of a bf16 image encode); the tail goes through the same lanes, so an element's
    // value does not depend on where a thread's chunk starts.
    pool.parallelFor(count, minimumChunk: elementwiseChunk) { range in
      var i = range.lowerBound
      while i < range.upperBound {
        let n = min(8, range.upperBound - i)
        var x = SIMD8<Float>()
        if n == 8 {
          x = F32Elements.load8(UnsafeRawPointer(input), i)
        } else {
          for j in 0..<n { x[j] = input[i + j] }
        }
        let y = x / (1 + exp8(-1.702 * x))
        if n == 8 {
          UnsafeMutableRawPointer(out).storeBytes(
            of: y,
            toByteOffset: i &* 4,
            as: SIMD8<Float>.self
          )
        } else {
          for j in 0..<n { out[i + j] = y[j] }
        }
        i &+= 8
      }
    }
  }

  /// Reference: `x · sigmoid(1.702 · x)` with libm's `expf`, one element at a time.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (count)
    in input: UnsafePointer<Float>,  // (count)
    count: Int
  ) {
    for i in 0..<count { out[i] = input[i] * SiLU.sigmoid(1.702 * input[i]) }
  }

  /// `dIn = dOut · (s + 1.702 · x · s · (1 − s))` with `s = sigmoid(1.702 · x)` (overwritten).
  public static func backward(
    dIn: UnsafeMutablePointer<Float>,  // (count)
    dOut: UnsafePointer<Float>,  // (count)
    in input: UnsafePointer<Float>,  // (count)
    count: Int
  ) {
    for i in 0..<count {
      let x = input[i]
      let s = SiLU.sigmoid(1.702 * x)
      dIn[i] = dOut[i] * (s + 1.702 * x * s * (1 - s))
    }
  }
}
