import CBLAS

/// `out(M, N) = in(M, K) · W(N, K)^T (+ bias)`, weights in the Hugging Face layout (rows are
/// outputs). The fast path is OpenBLAS `cblas_sgemm` (row-major, B transposed), running on
/// OpenBLAS's threads; at M ≤ `GEMV.maxRows` use `GEMV` (or `forward(weight:)`, which does).
public enum Matmul {
  /// `out = in · W^T + bias`, or `out += …` when `accumulate` (a LoRA delta on top of a frozen
  /// base output).
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: UnsafePointer<Float>,  // (N, K)
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false
  ) {
    gemm(
      out: out,
      outStride: N,
      in: input,
      weight: weight,
      bias: bias,
      M: M,
      N: N,
      K: K,
      accumulate: accumulate
    )
  }

  /// `forward` writing rows `outStride` apart, so that a block of output columns can be filled.
  static func gemm(
    out: UnsafeMutablePointer<Float>,  // (M, outStride), columns 0 ..< N written
    outStride: Int,
    in input: UnsafePointer<Float>,  // (M, K)
    weight: UnsafePointer<Float>,  // (N, K)
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool
  ) {
    guard M > 0, N > 0 else { return }
    // The bias goes in first and sgemm accumulates onto it (beta = 1).
    var beta: Float = accumulate ? 1 : 0
    if let bias {
      for m in 0..<M {
        let row = out + m * outStride
        if accumulate {
          for n in 0..<N { row[n] += bias[n] }
        } else {
          row.update(from: bias, count: N)
        }
      }
      beta = 1
    }
    SGEMM.product(
      .normal,
      .transposed,
      M: M,
      N: N,
      K: K,
      alpha: 1,
      input,
      lda: K,
      weight,
      ldb: K,
      beta: beta,
      out,
      ldc: outStride
    )
  }

  /// Reference: the triple loop, accumulating in Double.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: UnsafePointer<Float>,  // (N, K)
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false
  ) {
    for m in 0..<M {
      for n in 0..<N {
        var sum = Double(bias?[n] ?? 0)
        for k in 0..<K {
          sum += Double(input[m * K + k]) * Double(weight[n * K + k])
        }
        out[m * N + n] = (accumulate ? out[m * N + n] : 0) + Float(sum)
      }
    }
  }

  /// Gradients of `forward`. Any of `dIn`, `dWeight`, `dBias` may be nil: frozen base weights
  /// get no `dWeight`, the first layer needs no `dIn`.
  /// `dIn` is overwritten (an activation); `dWeight` and `dBias` accumulate (parameters).
  public static func backward(
    dIn: UnsafeMutablePointer<Float>?,  // (M, K)
    dWeight: UnsafeMutablePointer<Float>?,  // (N, K)
    dBias: UnsafeMutablePointer<Float>?,  // (N)
    dOut: UnsafePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: UnsafePointer<Float>,  // (N, K)
    M: Int,
    N: Int,
    K: Int
  ) {
    if let dIn, M > 0, K > 0 {
      if N == 0 {
        dIn.update(repeating: 0, count: M * K)
      } else {
        // dIn(M, K) = dOut(M, N) · W(N, K)
        SGEMM.product(
          .normal,
          .normal,
          M: M,
          N: K,
          K: N,
          alpha: 1,
          dOut,
          lda: N,
          weight,
          ldb: K,
          beta: 0,
          dIn,
          ldc: K
        )
      }
    }
    if let dWeight, M > 0, N > 0, K > 0 {
      // dW(N, K) += dOut(M, N)^T · in(M, K)
      SGEMM.product(
        .transposed,
        .normal,
        M: N,
        N: K,
        K: M,
        alpha: 1,
        dOut,
        lda: N,
        input,
        ldb: K,
        beta: 1,
        dWeight,
        ldc: K
      )
    }
    if let dBias {
      for m in 0..<M {
        for n in 0..<N { dBias[n] += dOut[m * N + n] }
      }
    }
  }

  /// Reference for `backward`: loops, accumulating in Double.
  public static func backwardNaive(
    dIn: UnsafeMutablePointer<Float>?,  // (M, K)
    dWeight: UnsafeMutablePointer<Float>?,  // (N, K)
    dBias: UnsafeMutablePointer<Float>?,  // (N)
    dOut: UnsafePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: UnsafePointer<Float>,  // (N, K)
    M: Int,
    N: Int,
    K: Int
  ) {
    if let dIn {
      for m in 0..<M {
        for k in 0..<K {
          var sum = 0.0
          for n in 0..<N { sum += Double(dOut[m * N + n]) * Double(weight[n * K + k]) }
          dIn[m * K + k] = Float(sum)
        }
      }
    }
    if let dWeight {
      for n in 0..<N {
        for k in 0..<K {
          var sum = 0.0
          for m in 0..<M { sum += Double(dOut[m * N + n]) * Double(input[m * K + k]) }
          dWeight[n * K + k] += Float(sum)
        }
      }
    }
    if let dBias {
      for n in 0..<N {
        var sum = 0.0
        for m in 0..<M { sum += Double(dOut[m * N + n]) }
        dBias[n] += Float(sum)
      }
    }
  }
}
