/// LayerNorm (CLIP): `out = weight · (x − mean) / sqrt(var + eps) + bias`, row by row, with the
/// biased variance (as PyTorch). `mean` and `rstd` are written for the backward pass.
public enum LayerNorm {
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (BT, C)
    mean: UnsafeMutablePointer<Float>,  // (BT)
    rstd: UnsafeMutablePointer<Float>,  // (BT)
    in input: UnsafePointer<Float>,  // (BT, C)
    weight: UnsafePointer<Float>,  // (C)
    bias: UnsafePointer<Float>,  // (C)
    eps: Float,
    BT: Int,
    C: Int,
    pool: ThreadPool = .current
  ) {
    // Rows are independent: split them across threads when there are enough elements. The
    // sums run in eight lanes (a scalar fp32 sum is one dependent add per element, which the
    // optimiser may not reorder: ~4 % of a bf16 image encode), so they differ from
    // `forwardNaive`'s in rounding only.
    pool.parallelFor(BT, minimumChunk: max(1, 16_384 / max(C, 1))) { rows in
      for row in rows {
        let x = UnsafeRawPointer(input + row * C)
        let y = UnsafeMutableRawPointer(out + row * C)
        let (w, b) = (UnsafeRawPointer(weight), UnsafeRawPointer(bias))
        let whole = C & ~7
        var sums = SIMD8<Float>()
        for c in stride(from: 0, to: whole, by: 8) { sums += F32Elements.load8(x, c) }
        var sum = sums.sum()
        for c in whole..<C { sum += input[row * C + c] }
        let m = sum / Float(C)
        // Two passes (mean, then squared deviations): no cancellation for rows far from zero.
        var squares8 = SIMD8<Float>()
        for c in stride(from: 0, to: whole, by: 8) {
          let d = F32Elements.load8(x, c) - m
          squares8 = squares8.addingProduct(d, d)
        }
        var squares = squares8.sum()
        for c in whole..<C { squares += (input[row * C + c] - m) * (input[row * C + c] - m) }
        let s = 1 / (squares / Float(C) + eps).squareRoot()
        for c in stride(from: 0, to: whole, by: 8) {
          let n = (F32Elements.load8(x, c) - m) * s
          let value = F32Elements.load8(b, c).addingProduct(n, F32Elements.load8(w, c))
          y.storeBytes(of: value, toByteOffset: c &* 4, as: SIMD8<Float>.self)
        }
        for c in whole..<C { out[row * C + c] = (input[row * C + c] - m) * s * weight[c] + bias[c] }
        mean[row] = m
        rstd[row] = s
      }
    }
  }

  /// Reference: the same two passes with scalar sums, one thread.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (BT, C)
    mean: UnsafeMutablePointer<Float>,  // (BT)
    rstd: UnsafeMutablePointer<Float>,  // (BT)
    in input: UnsafePointer<Float>,  // (BT, C)
    weight: UnsafePointer<Float>,  // (C)
    bias: UnsafePointer<Float>,  // (C)
    eps: Float,
    BT: Int,
    C: Int
  ) {
    for row in 0..<BT {
      let x = input + row * C
      let y = out + row * C
      var sum: Float = 0
      for c in 0..<C { sum += x[c] }
      let m = sum / Float(C)
      var squares: Float = 0
      for c in 0..<C { squares += (x[c] - m) * (x[c] - m) }
      let s = 1 / (squares / Float(C) + eps).squareRoot()
      for c in 0..<C { y[c] = (x[c] - m) * s * weight[c] + bias[c] }
      mean[row] = m
      rstd[row] = s
    }
  }

  /// llm.c's layernorm_backward: with `n = (x − mean) · rstd` and `g = dOut · weight`,
  /// `dIn = rstd · (g − mean(g) − n · mean(g · n))` (overwritten); `dWeight += dOut · n`,
  /// `dBias += dOut` (accumulated).
  public static func backward(
    dIn: UnsafeMutablePointer<Float>,  // (BT, C)
    dWeight: UnsafeMutablePointer<Float>?,  // (C)
    dBias: UnsafeMutablePointer<Float>?,  // (C)
    dOut: UnsafePointer<Float>,  // (BT, C)
    in input: UnsafePointer<Float>,  // (BT, C)
    weight: UnsafePointer<Float>,  // (C)
    mean: UnsafePointer<Float>,  // (BT)
    rstd: UnsafePointer<Float>,  // (BT)
    BT: Int,
    C: Int
  ) {
    for row in 0..<BT {
      let x = input + row * C
      let dy = dOut + row * C
      let dx = dIn + row * C
      let m = mean[row]
      let s = rstd[row]
      var meanG: Float = 0
      var meanGN: Float = 0
      for c in 0..<C {
        let g = dy[c] * weight[c]
        meanG += g
        meanGN += g * (x[c] - m) * s
      }
      meanG /= Float(C)
      meanGN /= Float(C)
      for c in 0..<C {
        let normalized = (x[c] - m) * s
        dx[c] = s * (dy[c] * weight[c] - meanG - normalized * meanGN)
        dWeight?[c] += dy[c] * normalized
        dBias?[c] += dy[c]
      }
    }
  }
}
