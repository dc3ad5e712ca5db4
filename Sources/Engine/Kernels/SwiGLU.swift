import Glibc

/// Elements per chunk below which an elementwise kernel is not worth splitting across threads
/// (`expf` and `erff` cost a few ns each: ~1024 of them take a few µs).
let elementwiseChunk = 1024

/// SiLU (swish): `x · sigmoid(x)`, LLaMA's `hidden_act`.
public enum SiLU {
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (count)
    in input: UnsafePointer<Float>,  // (count)
    count: Int,
    pool: ThreadPool = .current
  ) {
    pool.parallelFor(count, minimumChunk: elementwiseChunk) { range in
      for i in range { out[i] = input[i] * sigmoid(input[i]) }
    }
  }

  /// `dIn = dOut · s · (1 + x · (1 − s))` with `s = sigmoid(x)` (overwritten).
  public static func backward(
    dIn: UnsafeMutablePointer<Float>,  // (count)
    dOut: UnsafePointer<Float>,  // (count)
    in input: UnsafePointer<Float>,  // (count)
    count: Int
  ) {
    for i in 0..<count { dIn[i] = dOut[i] * derivative(input[i]) }
  }

  @inline(__always)
  static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

  @inline(__always)
  static func derivative(_ x: Float) -> Float {
    let s = sigmoid(x)
    return s * (1 + x * (1 - s))
  }
}

/// LLaMA's gated MLP activation: `out = silu(gate) · up`, where `gate` and `up` are the outputs
/// of `gate_proj` and `up_proj`.
public enum SwiGLU {
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (BT, H)
    gate: UnsafePointer<Float>,  // (BT, H)
    up: UnsafePointer<Float>,  // (BT, H)
    count: Int,  // BT · H
    pool: ThreadPool = .current
  ) {
    pool.parallelFor(count, minimumChunk: elementwiseChunk) { range in
      // Eight at a time through `exp8` (scalar `expf` was ~10 % of a prefill); the tail goes
      // through the same vector code, so no element's value depends on where a chunk ends.
      let (g, u, o) = (UnsafeRawPointer(gate), UnsafeRawPointer(up), UnsafeMutableRawPointer(out))
      var i = range.lowerBound
      while i &+ 8 <= range.upperBound {
        let y = swiglu8(F32Elements.load8(g, i), F32Elements.load8(u, i))
        o.storeBytes(of: y, toByteOffset: i &* 4, as: SIMD8<Float>.self)
        i &+= 8
      }
      if i < range.upperBound {
        let n = range.upperBound &- i
        var (tailGate, tailUp) = (SIMD8<Float>(), SIMD8<Float>())
        for j in 0..<n {
          tailGate[j] = gate[i &+ j]
          tailUp[j] = up[i &+ j]
        }
        let y = swiglu8(tailGate, tailUp)
        for j in 0..<n { out[i &+ j] = y[j] }
      }
    }
  }

  @inline(__always)
  static func swiglu8(_ gate: SIMD8<Float>, _ up: SIMD8<Float>) -> SIMD8<Float> {
    gate / (1 + exp8(-gate)) * up
  }

  /// Reference: scalar `expf`, one thread.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (BT, H)
    gate: UnsafePointer<Float>,  // (BT, H)
    up: UnsafePointer<Float>,  // (BT, H)
    count: Int  // BT · H
  ) {
    for i in 0..<count { out[i] = gate[i] * SiLU.sigmoid(gate[i]) * up[i] }
  }

  /// `dGate = dOut · up · silu'(gate)`, `dUp = dOut · silu(gate)` (both overwritten), across the
  /// pool, eight at a time through `exp8` (the tail through the same vector code).
  public static func backward(
    dGate: UnsafeMutablePointer<Float>,  // (BT, H)
    dUp: UnsafeMutablePointer<Float>,  // (BT, H)
    dOut: UnsafePointer<Float>,  // (BT, H)
    gate: UnsafePointer<Float>,  // (BT, H)
    up: UnsafePointer<Float>,  // (BT, H)
    count: Int,  // BT · H
    pool: ThreadPool = .current
  ) {
    pool.parallelFor(count, minimumChunk: elementwiseChunk) { range in
      var i = range.lowerBound
      while i < range.upperBound {
        let n = min(8, range.upperBound &- i)
        var (g, u, d) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        if n == 8 {
          g = F32Elements.load8(UnsafeRawPointer(gate), i)
          u = F32Elements.load8(UnsafeRawPointer(up), i)
          d = F32Elements.load8(UnsafeRawPointer(dOut), i)
        } else {
          for j in 0..<n { (g[j], u[j], d[j]) = (gate[i &+ j], up[i &+ j], dOut[i &+ j]) }
        }
        let sigmoid = 1 / (1 + exp8(-g))
        let dg = d * u * sigmoid * (1 + g * (1 - sigmoid))
        let du = d * g * sigmoid
        if n == 8 {
          UnsafeMutableRawPointer(dGate).storeBytes(
            of: dg,
            toByteOffset: i &* 4,
            as: SIMD8<Float>.self
          )
          UnsafeMutableRawPointer(dUp).storeBytes(
            of: du,
            toByteOffset: i &* 4,
            as: SIMD8<Float>.self
          )
        } else {
          for j in 0..<n { (dGate[i &+ j], dUp[i &+ j]) = (dg[j], du[j]) }
        }
        i &+= n
      }
    }
  }

  /// Reference: scalar `expf`, one thread.
  public static func backwardNaive(
    dGate: UnsafeMutablePointer<Float>,  // (BT, H)
    dUp: UnsafeMutablePointer<Float>,  // (BT, H)
    dOut: UnsafePointer<Float>,  // (BT, H)
    gate: UnsafePointer<Float>,  // (BT, H)
    up: UnsafePointer<Float>,  // (BT, H)
    count: Int  // BT · H
  ) {
    for i in 0..<count {
      let g = gate[i]
      dGate[i] = dOut[i] * up[i] * SiLU.derivative(g)
      dUp[i] = dOut[i] * g * SiLU.sigmoid(g)
    }
  }
}
