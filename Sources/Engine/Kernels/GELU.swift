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
    pool: ThreadPool = .shared
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
    pool: ThreadPool = .shared
  ) {
    pool.parallelFor(count, minimumChunk: elementwiseChunk) { range in
      for i in range { out[i] = input[i] * SiLU.sigmoid(1.702 * input[i]) }
    }
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
