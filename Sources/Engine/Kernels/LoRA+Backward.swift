// Gradients of `LoRA.forward`, for the rows that use the adapter:
//   h = x · Aᵀ            (R, r)   recomputed (R·r·K, cheap next to the base product)
//   out += scale · h · Bᵀ (R, N)
// so, with g = dOut[rows] (R, N):
//   dB += scale · gᵀ · h  (N, r)
//   dh  = scale · g · B   (R, r)
//   dA += dhᵀ · x         (r, K)
//   dIn[rows] += dh · A   (R, K)
// dA and dB are parameter gradients (accumulate); dIn is added to the input gradient the frozen
// base product already wrote (`Matmul.backwardInput` overwrites, then LoRA adds). The trainable
// A and B are fp32 buffers (the trainer's parameters), not `WeightView`s.
// LoRA dropout (PEFT's `lora_dropout`, on the adapter's input only): run the forward on the
// dropped input x ⊙ mask (mask 0 or 1/(1−p)), pass that same dropped input here as `in`, and
// the mask as `dropoutMask`: dIn[rows] += (dh · A) ⊙ mask.
import CBLAS

extension LoRA {
  /// Fast path: gathers the R rows (unless they are `row0 ..< row0 + R`), then five sgemms.
  /// `rows` must be distinct. Pass `dIn: nil` when nothing below needs the gradient.
  public static func backward(
    dA: UnsafeMutablePointer<Float>,  // (r, K), +=
    dB: UnsafeMutablePointer<Float>,  // (N, r), +=
    dIn: UnsafeMutablePointer<Float>?,  // (M, K), += on the listed rows
    dOut: UnsafePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    rows: UnsafeBufferPointer<Int32>,  // (R) distinct row indices
    a: UnsafePointer<Float>,  // (r, K)
    b: UnsafePointer<Float>,  // (N, r)
    scale: Float,
    N: Int,
    K: Int,
    r: Int,
    dropoutMask: UnsafePointer<Float>? = nil  // (M, K), or nil without dropout
  ) {
    let R = rows.count
    guard R > 0, N > 0, K > 0, r > 0 else { return }
    let contiguous = rows.indices.allSatisfy { Int(rows[$0]) == Int(rows[0]) + $0 }
    let first = Int(rows[0])
    let scatter = !contiguous || dropoutMask != nil
    let scratchCount = (contiguous ? 0 : R * K + R * N) + (scatter ? R * K : 0) + 2 * R * r
    withUnsafeTemporaryAllocation(of: Float.self, capacity: scratchCount) { scratch in
      var next = scratch.baseAddress!
      var x = input + first * K  // (R, K)
      var g = dOut + first * N  // (R, N)
      if !contiguous {
        for i in 0..<R {
          (next + i * K).update(from: input + Int(rows[i]) * K, count: K)
          (next + R * K + i * N).update(from: dOut + Int(rows[i]) * N, count: N)
        }
        x = UnsafePointer(next)
        g = UnsafePointer(next + R * K)
        next += R * K + R * N
      }
      let h = next  // (R, r)
      let dh = next + R * r  // (R, r)
      // h(R, r) = x(R, K) · A(r, K)ᵀ
      SGEMM.product(
        .normal,
        .transposed,
        M: R,
        N: r,
        K: K,
        alpha: 1,
        x,
        lda: K,
        a,
        ldb: K,
        beta: 0,
        h,
        ldc: r
      )
      // dB(N, r) += scale · g(R, N)ᵀ · h(R, r)
      SGEMM.product(
        .transposed,
        .normal,
        M: N,
        N: r,
        K: R,
        alpha: scale,
        g,
        lda: N,
        h,
        ldb: r,
        beta: 1,
        dB,
        ldc: r
      )
      // dh(R, r) = scale · g(R, N) · B(N, r)
      SGEMM.product(
        .normal,
        .normal,
        M: R,
        N: r,
        K: N,
        alpha: scale,
        g,
        lda: N,
        b,
        ldb: r,
        beta: 0,
        dh,
        ldc: r
      )
      // dA(r, K) += dh(R, r)ᵀ · x(R, K)
      SGEMM.product(
        .transposed,
        .normal,
        M: r,
        N: K,
        K: R,
        alpha: 1,
        dh,
        lda: r,
        x,
        ldb: K,
        beta: 1,
        dA,
        ldc: K
      )
      guard let dIn else { return }
      // dIn[rows](R, K) += dh(R, r) · A(r, K): straight into dIn's contiguous rows, or into
      // scratch dx and scattered (with the dropout mask) below.
      let dx = next + 2 * R * r  // (R, K) when scattering
      SGEMM.product(
        .normal,
        .normal,
        M: R,
        N: K,
        K: r,
        alpha: 1,
        dh,
        lda: r,
        a,
        ldb: K,
        beta: scatter ? 0 : 1,
        scatter ? dx : dIn + first * K,
        ldc: K
      )
      if scatter {
        for i in 0..<R {
          let target = dIn + Int(rows[i]) * K
          if let mask = dropoutMask.map({ $0 + Int(rows[i]) * K }) {
            for k in 0..<K { target[k] += dx[i * K + k] * mask[k] }
          } else {
            cblas_saxpy(blasint(K), 1, dx + i * K, 1, target, 1)
          }
        }
      }
    }
  }

  /// Reference for `backward`: per-row loops, accumulating in Double.
  public static func backwardNaive(
    dA: UnsafeMutablePointer<Float>,  // (r, K), +=
    dB: UnsafeMutablePointer<Float>,  // (N, r), +=
    dIn: UnsafeMutablePointer<Float>?,  // (M, K), += on the listed rows
    dOut: UnsafePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    rows: UnsafeBufferPointer<Int32>,  // (R)
    a: UnsafePointer<Float>,  // (r, K)
    b: UnsafePointer<Float>,  // (N, r)
    scale: Float,
    N: Int,
    K: Int,
    r: Int,
    dropoutMask: UnsafePointer<Float>? = nil  // (M, K)
  ) {
    var sumA = [Double](repeating: 0, count: r * K)
    var sumB = [Double](repeating: 0, count: N * r)
    for row in rows.map(Int.init) {
      let x = input + row * K
      let g = dOut + row * N
      var h = [Double](repeating: 0, count: r)
      var dh = [Double](repeating: 0, count: r)
      for j in 0..<r {
        for k in 0..<K { h[j] += Double(x[k]) * Double(a[j * K + k]) }
        for n in 0..<N { dh[j] += Double(scale) * Double(g[n]) * Double(b[n * r + j]) }
      }
      for n in 0..<N {
        for j in 0..<r { sumB[n * r + j] += Double(scale) * Double(g[n]) * h[j] }
      }
      for j in 0..<r {
        for k in 0..<K { sumA[j * K + k] += dh[j] * Double(x[k]) }
      }
      if let dIn {
        for k in 0..<K {
          var sum = 0.0
          for j in 0..<r { sum += dh[j] * Double(a[j * K + k]) }
          dIn[row * K + k] += Float(sum * Double(dropoutMask?[row * K + k] ?? 1))
        }
      }
    }
    for i in 0..<(r * K) { dA[i] += Float(sumA[i]) }
    for i in 0..<(N * r) { dB[i] += Float(sumB[i]) }
  }
}
