import Glibc

// The many-query path of `CausalAttention` and `BidirectionalAttention`: for one head, query
// rows are taken a tile at a time and the tile's scores, softmax and weighted sum are two
// sgemms around a vectorised softmax,
//   S(rows, visible) = scale · Q_h(rows, HS) · K_g(visible, HS)^T
//   P = softmax of each row of S over its own visible keys (the causal mask: 0 beyond)
//   O_h(rows, HS) = P(rows, visible) · V_g(visible, HS)
// Q, K, V and O are read and written in place through their row strides (NH·HS, NKV·HS), so
// nothing is gathered. One query at a time (decode) is memory-bound and stays on `attendRow`.
// The sgemms run on OpenBLAS's threads (`BLASThreads`); heads run one after another, because
// OpenBLAS 0.3.21 has no per-call thread count and concurrent multithreaded calls contend.

/// Query rows per tile: bounds the score scratch to `tileRows · L` floats and keeps the causal
/// waste (scores above the diagonal inside a tile) small.
let attentionTileRows = 128

/// Queries per call from which the sgemm path beats one-row-at-a-time attention.
let attentionMinimumTiledRows = 8

/// Attention for every head `h`, queries `0 ..< T` at positions `past ..< past + T` over key
/// rows `0 ..< L`; `causal` hides keys after each query's position (else all L are seen).
func attendTiled(
  out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
  att: UnsafeMutablePointer<Float>?,  // (NH, T, L) probabilities, 0 where masked
  q: UnsafePointer<Float>,  // (T, NH, HS)
  keys: UnsafePointer<Float>,  // (L, NKV, HS)
  values: UnsafePointer<Float>,  // (L, NKV, HS)
  past: Int,
  T: Int,
  L: Int,
  NH: Int,
  NKV: Int,
  HS: Int,
  causal: Bool
) {
  let group = NH / NKV
  let scale = 1 / Float(HS).squareRoot()
  let tile = min(T, attentionTileRows)
  withUnsafeTemporaryAllocation(of: Float.self, capacity: att == nil ? tile * L : 1) { scratch in
    for h in 0..<NH {
      let kvOffset = (h / group) * HS
      for t0 in stride(from: 0, to: T, by: tile) {
        let rows = min(tile, T - t0)
        // Keys any row of this tile sees; the last row sees the most.
        let width = causal ? past + t0 + rows : L
        // Scores go straight into `att` when it is wanted (row stride L), else into scratch.
        let (scores, ld) = att.map { ($0 + (h * T + t0) * L, L) } ?? (scratch.baseAddress!, width)
        SGEMM.product(
          .normal,
          .transposed,
          M: rows,
          N: width,
          K: HS,
          alpha: scale,
          q + (t0 * NH + h) * HS,
          lda: NH * HS,
          keys + kvOffset,
          ldb: NKV * HS,
          beta: 0,
          scores,
          ldc: ld
        )
        for i in 0..<rows {
          let row = scores + i * ld
          let visible = causal ? past + t0 + i + 1 : L
          softmaxInPlace(row, visible)
          // P · V reads `width` columns; `att` also wants zeros out to L.
          let end = att == nil ? width : L
          if visible < end { (row + visible).update(repeating: 0, count: end - visible) }
        }
        SGEMM.product(
          .normal,
          .normal,
          M: rows,
          N: HS,
          K: width,
          alpha: 1,
          scores,
          lda: ld,
          values + kvOffset,
          ldb: NKV * HS,
          beta: 0,
          out + (t0 * NH + h) * HS,
          ldc: NH * HS
        )
      }
    }
  }
}

/// `x = softmax(x)` over `count` elements in fp32, the maximum subtracted first.
@inline(__always)
func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ count: Int) {
  let raw = UnsafeMutableRawPointer(x)
  var maxima = SIMD8<Float>(repeating: -.infinity)
  var i = 0
  while i &+ 8 <= count {
    maxima = pointwiseMax(maxima, F32Elements.load8(raw, i))
    i &+= 8
  }
  var maximum = maxima.max()
  while i < count {
    maximum = max(maximum, x[i])
    i &+= 1
  }
  var sums = SIMD8<Float>()
  i = 0
  while i &+ 8 <= count {
    let e = exp8(F32Elements.load8(raw, i) - maximum)
    raw.storeBytes(of: e, toByteOffset: i &* 4, as: SIMD8<Float>.self)
    sums += e
    i &+= 8
  }
  var sum = sums.sum()
  while i < count {
    let e = expf(x[i] - maximum)
    x[i] = e
    sum += e
    i &+= 1
  }
  let normalizer = 1 / sum
  i = 0
  while i &+ 8 <= count {
    let scaled = F32Elements.load8(raw, i) * normalizer
    raw.storeBytes(of: scaled, toByteOffset: i &* 4, as: SIMD8<Float>.self)
    i &+= 8
  }
  while i < count {
    x[i] *= normalizer
    i &+= 1
  }
}
