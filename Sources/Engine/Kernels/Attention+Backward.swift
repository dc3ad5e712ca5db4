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

extension CausalAttention {
  /// Fast path: per head, query rows a tile at a time (`attentionTileRows`), each tile over the
  /// keys its last row sees (`t0 + rows`: the causal triangle is skipped but for the tile's own
  /// corner) — four sgemms around a row-wise softmax backward. Heads run one after another on
  /// OpenBLAS's threads, as the tiled forward does.
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
    let (qStride, kvStride) = (NH * HS, NKV * HS)
    let tile = min(T, attentionTileRows)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: tile * T) { scratch in
      let dS = scratch.baseAddress!  // (rows, width), row stride width: dP, then dS in place
      for h in 0..<NH {
        let kvOffset = (h / group) * HS
        for t0 in stride(from: 0, to: T, by: tile) {
          let rows = min(tile, T - t0)
          let width = t0 + rows
          let p = att + (h * T + t0) * T  // (rows, T), keys ≥ width are 0
          let dO = dOut + t0 * qStride + h * HS  // (rows, HS), row stride NH·HS
          // dP(rows, width) = dO(rows, HS) · V_g(width, HS)ᵀ
          SGEMM.Product(
            .normal,
            .transposed,
            rows,
            width,
            HS,
            1,
            dO,
            qStride,
            v + kvOffset,
            kvStride,
            0,
            dS,
            width
          ).run()
          softmaxBackwardCausal(dS: dS, p: p, pStride: T, rows: rows, first: t0, width: width)
          // dV_g(width, HS) += P(rows, width)ᵀ · dO(rows, HS)
          SGEMM.Product(
            .transposed,
            .normal,
            width,
            HS,
            rows,
            1,
            p,
            T,
            dO,
            qStride,
            1,
            dv + kvOffset,
            kvStride
          ).run()
          // dQ(rows, HS) = scale · dS(rows, width) · K_g(width, HS)
          SGEMM.Product(
            .normal,
            .normal,
            rows,
            HS,
            width,
            scale,
            dS,
            width,
            k + kvOffset,
            kvStride,
            0,
            dq + t0 * qStride + h * HS,
            qStride
          ).run()
          // dK_g(width, HS) += scale · dS(rows, width)ᵀ · Q(rows, HS)
          SGEMM.Product(
            .transposed,
            .normal,
            width,
            HS,
            rows,
            scale,
            dS,
            width,
            q + t0 * qStride + h * HS,
            qStride,
            1,
            dk + kvOffset,
            kvStride
          ).run()
        }
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

/// Rows `first ..< first + rows` of a causal softmax backward, in place:
/// `dS[t, s] = P[t, s] · (dP[t, s] − Σ_s' P[t, s'] dP[t, s'])` over `s ≤ t`, 0 after.
private func softmaxBackwardCausal(
  dS: UnsafeMutablePointer<Float>,  // (rows, width): dP in, dS out
  p: UnsafePointer<Float>,  // (rows, pStride)
  pStride: Int,
  rows: Int,
  first: Int,
  width: Int
) {
  for i in 0..<rows {
    let row = dS + i * width
    let pRow = p + i * pStride
    let visible = first + i + 1
    let inner = dot(pRow, UnsafePointer(row), visible)
    for s in 0..<visible { row[s] = pRow[s] * (row[s] - inner) }
    if visible < width { (row + visible).update(repeating: 0, count: width - visible) }
  }
}
