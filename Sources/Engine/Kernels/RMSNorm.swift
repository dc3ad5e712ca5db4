/// LLaMA's RMSNorm: `out = weight · x / sqrt(mean(x²) + eps)`, row by row, in fp32.
/// `rstd` is written for the backward pass (an explicit output, no hidden state).
public enum RMSNorm {
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (BT, C)
    rstd: UnsafeMutablePointer<Float>,  // (BT)
    in input: UnsafePointer<Float>,  // (BT, C)
    weight: UnsafePointer<Float>,  // (C)
    eps: Float,
    BT: Int,
    C: Int,
    pool: ThreadPool = .current
  ) {
    // Rows are independent: split them across threads when there are enough elements.
    pool.parallelFor(BT, minimumChunk: max(1, 16_384 / max(C, 1))) { rows in
      for row in rows {
        let x = input + row * C
        let y = out + row * C
        var sumOfSquares: Float = 0
        for c in 0..<C { sumOfSquares += x[c] * x[c] }
        let s = 1 / (sumOfSquares / Float(C) + eps).squareRoot()
        for c in 0..<C { y[c] = weight[c] * (x[c] * s) }
        rstd[row] = s
      }
    }
  }

  /// With `n = x · rstd`: `dWeight += dOut · n` and
  /// `dIn = rstd · (dOut · weight − n · mean(dOut · weight · n))` (overwritten). Without
  /// `dWeight` (the trainer's frozen norms) rows go across the pool, 16 lanes at a time;
  /// with it, `backwardNaive` (one thread: `dWeight` sums over rows).
  public static func backward(
    dIn: UnsafeMutablePointer<Float>,  // (BT, C)
    dWeight: UnsafeMutablePointer<Float>?,  // (C)
    dOut: UnsafePointer<Float>,  // (BT, C)
    in input: UnsafePointer<Float>,  // (BT, C)
    weight: UnsafePointer<Float>,  // (C)
    rstd: UnsafePointer<Float>,  // (BT)
    BT: Int,
    C: Int,
    pool: ThreadPool = .current
  ) {
    if dWeight != nil || C % 16 != 0 {
      return backwardNaive(
        dIn: dIn,
        dWeight: dWeight,
        dOut: dOut,
        in: input,
        weight: weight,
        rstd: rstd,
        BT: BT,
        C: C
      )
    }
    typealias V = SIMD16<Float>
    let (x0, dy0, w0) = (UnsafeRawPointer(input), UnsafeRawPointer(dOut), UnsafeRawPointer(weight))
    let dx0 = UnsafeMutableRawPointer(dIn)
    pool.parallelFor(BT, minimumChunk: max(1, 16_384 / max(C, 1))) { rows in
      for row in rows {
        let base = row &* C &* 4
        let s = rstd[row]
        var sum = V()
        for c in stride(from: 0, to: C, by: 16) {
          let (x, dy) = (
            x0.loadUnaligned(fromByteOffset: base &+ c &* 4, as: V.self),
            dy0.loadUnaligned(fromByteOffset: base &+ c &* 4, as: V.self)
          )
          sum += dy * w0.loadUnaligned(fromByteOffset: c &* 4, as: V.self) * x
        }
        let projection = sum.sum() * s / Float(C)
        for c in stride(from: 0, to: C, by: 16) {
          let (x, dy) = (
            x0.loadUnaligned(fromByteOffset: base &+ c &* 4, as: V.self),
            dy0.loadUnaligned(fromByteOffset: base &+ c &* 4, as: V.self)
          )
          let w = w0.loadUnaligned(fromByteOffset: c &* 4, as: V.self)
          let dx = s * (dy * w - (x * s) * projection)
          dx0.storeBytes(of: dx, toByteOffset: base &+ c &* 4, as: V.self)
        }
      }
    }
  }

  /// Reference (and the path with `dWeight`): scalar, one thread.
  public static func backwardNaive(
    dIn: UnsafeMutablePointer<Float>,  // (BT, C)
    dWeight: UnsafeMutablePointer<Float>?,  // (C)
    dOut: UnsafePointer<Float>,  // (BT, C)
    in input: UnsafePointer<Float>,  // (BT, C)
    weight: UnsafePointer<Float>,  // (C)
    rstd: UnsafePointer<Float>,  // (BT)
    BT: Int,
    C: Int
  ) {
    for row in 0..<BT {
      let x = input + row * C
      let dy = dOut + row * C
      let dx = dIn + row * C
      let s = rstd[row]
      var projection: Float = 0
      for c in 0..<C { projection += dy[c] * weight[c] * x[c] * s }
      projection /= Float(C)
      for c in 0..<C {
        let normalized = x[c] * s
        dx[c] = s * (dy[c] * weight[c] - normalized * projection)
        dWeight?[c] += dy[c] * normalized
      }
    }
  }
}
