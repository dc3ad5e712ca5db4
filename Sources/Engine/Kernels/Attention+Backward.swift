// Gradients of `CausalAttention.forward` over a whole sequence (`past = 0`, so L = T: training
// sees every token of the sequence at once). Backward uses the probabilities the forward wrote
// into `att` (NH, T, T), 0 above the diagonal — llm.c keeps `att` the same way. When that is
// too much memory (NH·T² floats per layer), call the forward again for one layer with an
// `att` scratch just before its backward (recompute per layer). Per query head h over its KV
// head g = h / (NH / NKV), with P = att[h] and scale = 1/√HS:
//   dP(T, T)      = dO_h · V_gᵀ
//   dS[t, s]      = P[t, s] · (dP[t, s] − Σ_s' P[t, s'] dP[t, s'])   (softmax backward; s ≤ t)
//   dQ_h          = scale · dS · K_g
//   dK_g         += scale · dSᵀ · Q_h        (summed over the NH / NKV heads of the group)
//   dV_g         += Pᵀ · dO_h
// dq, dk and dv are activation gradients: overwritten (dk and dv zeroed, then summed over the
// group). RoPE's backward then takes dq and dk back through the rotation.
import CBLAS

extension CausalAttention {
  /// Fast path: five sgemm-sized steps per head (four sgemms and a row-wise softmax
  /// backward), heads one after another on OpenBLAS's threads (as the tiled forward).
  public static func backward(
    dq: UnsafeMutablePointer<Float>,  // (T, NH, HS), overwritten
    dk: UnsafeMutablePointer<Float>,  // (T, NKV, HS), overwritten
    dv: UnsafeMutablePointer<Float>,  // (T, NKV, HS), overwritten
    dOut: UnsafePointer<Float>,  // (T, NH, HS)
    att: UnsafePointer<Float>,  // (NH, T, T) the forward's probabilities
    q: UnsafePointer<Float>,  // (T, NH, HS)
    k: UnsafePointer<Float>,  // (T, NKV, HS)
    v: UnsafePointer<Float>,  // (T, NKV, HS)
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int
  ) {
    precondition(NKV > 0 && NH % NKV == 0, "\(NH) query heads do not group over \(NKV) KV heads")
    dk.update(repeating: 0, count: T * NKV * HS)
    dv.update(repeating: 0, count: T * NKV * HS)
    guard T > 0, HS > 0 else { return }
    let group = NH / NKV
    let scale = 1 / Float(HS).squareRoot()
    let (bT, bHS, qStride, kvStride) = (
      blasint(T), blasint(HS), blasint(NH * HS), blasint(NKV * HS)
    )
    withUnsafeTemporaryAllocation(of: Float.self, capacity: T * T) { scratch in
      let dS = scratch.baseAddress!  // (T, T): dP, then dS in place
      for h in 0..<NH {
        let g = h / group
        let p = att + h * T * T
        let dOh = dOut + h * HS
        // dP(T, T) = dO_h(T, HS) · V_g(T, HS)ᵀ
        cblas_sgemm(
          CblasRowMajor,
          CblasNoTrans,
          CblasTrans,
          bT,
          bT,
          bHS,
          1,
          dOh,
          qStride,
          v + g * HS,
          kvStride,
          0,
          dS,
          bT
        )
        softmaxBackwardCausal(dS: dS, p: p, T: T)
        // dV_g(T, HS) += P(T, T)ᵀ · dO_h(T, HS)
        cblas_sgemm(
          CblasRowMajor,
          CblasTrans,
          CblasNoTrans,
          bT,
          bHS,
          bT,
          1,
          p,
          bT,
          dOh,
          qStride,
          1,
          dv + g * HS,
          kvStride
        )
        // dQ_h(T, HS) = scale · dS(T, T) · K_g(T, HS)
        cblas_sgemm(
          CblasRowMajor,
          CblasNoTrans,
          CblasNoTrans,
          bT,
          bHS,
          bT,
          scale,
          dS,
          bT,
          k + g * HS,
          kvStride,
          0,
          dq + h * HS,
          qStride
        )
        // dK_g(T, HS) += scale · dS(T, T)ᵀ · Q_h(T, HS)
        cblas_sgemm(
          CblasRowMajor,
          CblasTrans,
          CblasNoTrans,
          bT,
          bHS,
          bT,
          scale,
          dS,
          bT,
          q + h * HS,
          qStride,
          1,
          dk + g * HS,
          kvStride
        )
      }
    }
  }

  /// Reference for `backward`: scalar loops over the causal triangle, accumulating in Double.
  public static func backwardNaive(
    dq: UnsafeMutablePointer<Float>,  // (T, NH, HS), overwritten
    dk: UnsafeMutablePointer<Float>,  // (T, NKV, HS), overwritten
    dv: UnsafeMutablePointer<Float>,  // (T, NKV, HS), overwritten
    dOut: UnsafePointer<Float>,  // (T, NH, HS)
    att: UnsafePointer<Float>,  // (NH, T, T)
    q: UnsafePointer<Float>,  // (T, NH, HS)
    k: UnsafePointer<Float>,  // (T, NKV, HS)
    v: UnsafePointer<Float>,  // (T, NKV, HS)
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int
  ) {
    let scale = 1 / Double(HS).squareRoot()
    var sumQ = [Double](repeating: 0, count: T * NH * HS)
    var sumK = [Double](repeating: 0, count: T * NKV * HS)
    var sumV = [Double](repeating: 0, count: T * NKV * HS)
    for h in 0..<NH {
      let g = h / (NH / NKV)
      for t in 0..<T {
        let o = (t * NH + h) * HS
        var dP = [Double](repeating: 0, count: t + 1)
        var inner = 0.0
        for s in 0...t {
          let pv = Double(att[(h * T + t) * T + s])
          for i in 0..<HS {
            dP[s] += Double(dOut[o + i]) * Double(v[(s * NKV + g) * HS + i])
            sumV[(s * NKV + g) * HS + i] += pv * Double(dOut[o + i])
          }
          inner += pv * dP[s]
        }
        for s in 0...t {
          let dS = Double(att[(h * T + t) * T + s]) * (dP[s] - inner) * scale
          for i in 0..<HS {
            sumQ[o + i] += dS * Double(k[(s * NKV + g) * HS + i])
            sumK[(s * NKV + g) * HS + i] += dS * Double(q[o + i])
          }
        }
      }
    }
    for i in sumQ.indices { dq[i] = Float(sumQ[i]) }
    for i in sumK.indices {
      dk[i] = Float(sumK[i])
      dv[i] = Float(sumV[i])
    }
  }
}

/// Row t of a causal softmax backward, in place: `dS[t, s] = P[t, s] · (dP[t, s] − Σ P·dP)`
/// over `s ≤ t`, and 0 above the diagonal.
private func softmaxBackwardCausal(
  dS: UnsafeMutablePointer<Float>,  // (T, T): dP in, dS out
  p: UnsafePointer<Float>,  // (T, T)
  T: Int
) {
  for t in 0..<T {
    let row = dS + t * T
    let pRow = p + t * T
    let inner = dot(pRow, UnsafePointer(row), t + 1)
    for s in 0...t { row[s] = pRow[s] * (row[s] - inner) }
    if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
  }
}
