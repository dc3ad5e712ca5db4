import Glibc

/// Causal GQA self-attention over a paged KV pool (vLLM's PagedAttention), so that many
/// sequences share one preallocated pool and a common prefix can share physical blocks.
///
/// Per layer the pool holds `blocks` blocks of `blockSize` positions, `(blocks, blockSize, NKV,
/// HS)` for keys and for values. A sequence's block table maps logical block `b` (positions
/// `b · blockSize ..< (b + 1) · blockSize`) to a physical block. The `T` queries sit at positions
/// `past ..< past + T`, their keys and values already written to the pool; query `t` attends to
/// positions `0 ... past + t`. Otherwise as `CausalAttention` (scale `1 / sqrt(HS)`, fp32
/// softmax with the row maximum subtracted, head `h` reads KV head `h / (NH / NKV)`).
public enum PagedAttention {
  /// Up to this many queries (decode), each row walks the blocks with SIMD dot products; above
  /// it, a tile of rows goes through sgemm per block (the pool's rows are read in place through
  /// their stride, not gathered). Measured at NH 32, HS 128, blocks of 16: equal at T = 2, sgemm
  /// ~1.5–3× faster from T = 4, the row loop ahead at T = 1 for GQA.
  static let rowLoopMaxT = 1
  /// Query rows per sgemm tile: bounds the score scratch to `tileRows · L` floats per thread.
  static let tileRows = 128

  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    q: UnsafePointer<Float>,  // (T, NH, HS)
    keyPool: UnsafePointer<Float>,  // (blocks, blockSize, NKV, HS)
    valuePool: UnsafePointer<Float>,  // (blocks, blockSize, NKV, HS)
    blockTable: UnsafePointer<Int32>,  // (⌈(past + T) / blockSize⌉) physical block ids
    blockSize: Int,
    past: Int,
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int,
    pool: ThreadPool = .current
  ) {
    precondition(NKV > 0 && NH % NKV == 0, "\(NH) query heads do not group over \(NKV) KV heads")
    precondition(blockSize > 0, "a block holds at least one position")
    guard T > 0 else { return }
    let geometry = Geometry(
      blockTable: blockTable,
      blockSize: blockSize,
      rowStride: NKV * HS,
      NH: NH,
      HS: HS,
      group: NH / NKV,
      scale: 1 / Float(HS).squareRoot()
    )
    let L = past + T
    if T <= rowLoopMaxT {
      pool.parallelFor(NH) { heads in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: heads.count * L) { scratch in
          for t in 0..<T {
            attendRow(
              out: out + t * NH * HS,
              scores: scratch.baseAddress!,  // (heads, visible)
              q: q + t * NH * HS,
              keyPool: keyPool,
              valuePool: valuePool,
              heads: heads,
              visible: past + t + 1,
              geometry: geometry
            )
          }
        }
      }
      return
    }
    let rows = min(T, tileRows)
    // Heads split across the pool, each thread issuing its own small per-block sgemms: measured
    // faster than heads in turn with OpenBLAS threading each (larger) product.
    pool.parallelFor(NH) { heads in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * L) { scratch in
        for h in heads {
          for start in stride(from: 0, to: T, by: rows) {
            attendTile(
              out: out + start * NH * HS,
              scores: scratch.baseAddress!,  // (tile, L')
              q: q + start * NH * HS,
              keyPool: keyPool,
              valuePool: valuePool,
              head: h,
              past: past + start,
              T: min(rows, T - start),
              geometry: geometry
            )
          }
        }
      }
    }
  }

  /// Reference: gathers each sequence position through the block table, plain scalar loops,
  /// one thread.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    q: UnsafePointer<Float>,  // (T, NH, HS)
    keyPool: UnsafePointer<Float>,  // (blocks, blockSize, NKV, HS)
    valuePool: UnsafePointer<Float>,  // (blocks, blockSize, NKV, HS)
    blockTable: UnsafePointer<Int32>,  // (⌈(past + T) / blockSize⌉)
    blockSize: Int,
    past: Int,
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int
  ) {
    // Offset of position s, KV head g, element 0 in a pool.
    func offset(_ s: Int, _ g: Int) -> Int {
      ((Int(blockTable[s / blockSize]) * blockSize + s % blockSize) * NKV + g) * HS
    }
    for h in 0..<NH {
      let g = h / (NH / NKV)
      for t in 0..<T {
        let visible = past + t + 1
        let qRow = q + (t * NH + h) * HS
        var weights = [Float](repeating: 0, count: visible)
        for s in 0..<visible {
          var score: Float = 0
          for i in 0..<HS { score += qRow[i] * keyPool[offset(s, g) + i] }
          weights[s] = score / Float(HS).squareRoot()
        }
        let maximum = weights.max() ?? 0
        for s in 0..<visible { weights[s] = expf(weights[s] - maximum) }
        let sum = weights.reduce(0, +)
        for i in 0..<HS {
          var value: Float = 0
          for s in 0..<visible { value += weights[s] / sum * valuePool[offset(s, g) + i] }
          out[(t * NH + h) * HS + i] = value
        }
      }
    }
  }
}

/// What every row and tile needs to find its keys and values.
private struct Geometry {
  let blockTable: UnsafePointer<Int32>  // (logical blocks)
  let blockSize: Int
  let rowStride: Int  // NKV · HS: from one position to the next inside a block
  let NH: Int
  let HS: Int
  let group: Int  // NH / NKV
  let scale: Float

  /// Offset of logical block `b`, KV head of query head `h`, in a pool.
  @inline(__always)
  func block(_ b: Int, head h: Int) -> Int {
    Int(blockTable[b]) &* blockSize &* rowStride &+ (h / group) &* HS
  }
}

/// One query row (decode) for a range of heads: scores, softmax, weighted sum of values.
/// Position-major: each position's keys (then values) for all of the range's heads are one
/// contiguous run of the pool, where a head-major walk would stride `NKV · HS` floats per
/// position (a new page per row at 7B sizes, measured ~3× slower).
@inline(__always)
private func attendRow(
  out: UnsafeMutablePointer<Float>,  // (NH, HS), heads in range written
  scores: UnsafeMutablePointer<Float>,  // (heads, visible), scratch
  q: UnsafePointer<Float>,  // (NH, HS)
  keyPool: UnsafePointer<Float>,  // (blocks, blockSize, NKV, HS)
  valuePool: UnsafePointer<Float>,  // (blocks, blockSize, NKV, HS)
  heads: Range<Int>,
  visible: Int,
  geometry g: Geometry
) {
  let (HS, first) = (g.HS, heads.lowerBound)
  let blocks = (visible + g.blockSize - 1) / g.blockSize
  // Scores four positions at a time: four independent accumulator chains per head instead of
  // one dot product waiting on the last (decode attention was latency-bound, ~20 GFLOP/s).
  for b in 0..<blocks {
    let keys = keyPool + g.block(b, head: 0)  // (n, NKV, HS)
    let start = b * g.blockSize
    let n = min(g.blockSize, visible - start)
    for h in heads {
      let qh = q + h * HS
      let kh = keys + h / g.group * HS
      let row = scores + (h - first) * visible + start
      var i = 0
      while i &+ 4 <= n {
        let k = kh + i &* g.rowStride
        let four = dot4(qh, k, k + g.rowStride, k + 2 &* g.rowStride, k + 3 &* g.rowStride, HS)
        for j in 0..<4 { row[i &+ j] = four[j] * g.scale }
        i &+= 4
      }
      while i < n {
        row[i] = dot(qh, kh + i &* g.rowStride, HS) * g.scale
        i &+= 1
      }
    }
  }
  for h in heads { softmaxInPlace(scores + (h - first) * visible, visible) }
  // Weighted values, block by block (a block's value rows for one KV head, 8 KiB at HS 64,
  // stay in L1 while the group's heads pass): each head's output is summed over the block's
  // positions in registers, 64 columns at a time, then added to `out` once per block.
  for h in heads { (out + h * HS).update(repeating: 0, count: HS) }
  for b in 0..<blocks {
    let start = b * g.blockSize
    let n = min(g.blockSize, visible - start)
    for h in heads {
      let values = valuePool + g.block(b, head: h)  // (n, ·) rows rowStride apart
      let p = scores + (h - first) * visible + start  // (n)
      var c = 0
      while c &+ 64 <= HS {
        addWeightedRows64(out + h * HS + c, p, values + c, n, g.rowStride)
        c &+= 64
      }
      while c < HS {
        var sum: Float = 0
        for i in 0..<n { sum += p[i] * values[i &* g.rowStride &+ c] }
        out[h * HS + c] += sum
        c &+= 1
      }
    }
  }
}

/// `out[0 ..< 64] += Σ_i p[i] · rows[i · stride ..< i · stride + 64]` for `i < n`, with the 64
/// sums in eight SIMD8 registers.
@inline(__always)
private func addWeightedRows64(
  _ out: UnsafeMutablePointer<Float>,  // (64)
  _ p: UnsafePointer<Float>,  // (n)
  _ rows: UnsafePointer<Float>,  // (n, stride)
  _ n: Int,
  _ stride: Int
) {
  var (a0, a1, a2, a3) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
  var (a4, a5, a6, a7) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
  for i in 0..<n {
    let w = SIMD8<Float>(repeating: p[i])
    let r = UnsafeRawPointer(rows + i &* stride)
    a0 = a0.addingProduct(w, F32Elements.load8(r, 0))
    a1 = a1.addingProduct(w, F32Elements.load8(r, 8))
    a2 = a2.addingProduct(w, F32Elements.load8(r, 16))
    a3 = a3.addingProduct(w, F32Elements.load8(r, 24))
    a4 = a4.addingProduct(w, F32Elements.load8(r, 32))
    a5 = a5.addingProduct(w, F32Elements.load8(r, 40))
    a6 = a6.addingProduct(w, F32Elements.load8(r, 48))
    a7 = a7.addingProduct(w, F32Elements.load8(r, 56))
  }
  let o = UnsafeMutableRawPointer(out)
  @inline(__always) func add(_ a: SIMD8<Float>, _ j: Int) {
    o.storeBytes(of: F32Elements.load8(o, j) + a, toByteOffset: j &* 4, as: SIMD8<Float>.self)
  }
  add(a0, 0)
  add(a1, 8)
  add(a2, 16)
  add(a3, 24)
  add(a4, 32)
  add(a5, 40)
  add(a6, 48)
  add(a7, 56)
}

/// `T` query rows of one head (a prefill tile): `S = scale · Q · K_bᵀ` by sgemm per block into a
/// `(T, L)` score matrix, a masked softmax per row, then `out = Σ_b P_b · V_b` by sgemm.
/// Rows before the block's first position see none of it and are left out of both products.
private func attendTile(
  out: UnsafeMutablePointer<Float>,  // (T, NH, HS), column block of head h written
  scores: UnsafeMutablePointer<Float>,  // (T, L) scratch
  q: UnsafePointer<Float>,  // (T, NH, HS)
  keyPool: UnsafePointer<Float>,  // (blocks, blockSize, NKV, HS)
  valuePool: UnsafePointer<Float>,  // (blocks, blockSize, NKV, HS)
  head h: Int,
  past: Int,
  T: Int,
  geometry g: Geometry
) {
  let L = past + T
  let blocks = (L + g.blockSize - 1) / g.blockSize
  let qStride = g.NH * g.HS
  for b in 0..<blocks {
    let first = b * g.blockSize
    let t0 = max(0, first - past)
    SGEMM.product(
      .normal,
      .transposed,
      M: T - t0,
      N: min(g.blockSize, L - first),
      K: g.HS,
      alpha: g.scale,
      q + t0 * qStride + h * g.HS,  // (T - t0, HS), lda NH · HS
      lda: qStride,
      keyPool + g.block(b, head: h),  // (n, HS), ldb NKV · HS
      ldb: g.rowStride,
      beta: 0,
      scores + t0 * L + first,  // (T - t0, n), ldc L
      ldc: L
    )

  }
  for t in 0..<T {
    let row = scores + t * L  // (L)
    let visible = past + t + 1
    softmaxInPlace(row, visible)
    // Masked positions must be 0: the P · V products below read whole blocks.
    if visible < L { (row + visible).update(repeating: 0, count: L - visible) }
  }
  for b in 0..<blocks {
    let first = b * g.blockSize
    let t0 = max(0, first - past)  // 0 for block 0, so beta = 0 there initialises every row
    SGEMM.product(
      .normal,
      .normal,
      M: T - t0,
      N: g.HS,
      K: min(g.blockSize, L - first),
      alpha: 1,
      scores + t0 * L + first,  // (T - t0, n), lda L
      lda: L,
      valuePool + g.block(b, head: h),  // (n, HS), ldb NKV · HS
      ldb: g.rowStride,
      beta: b == 0 ? 0 : 1,
      out + t0 * qStride + h * g.HS,  // (T - t0, HS), ldc NH · HS
      ldc: qStride
    )

  }
}
