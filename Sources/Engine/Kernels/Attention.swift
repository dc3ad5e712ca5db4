import Glibc

/// Causal self-attention over a KV cache, with grouped-query heads (LLaMA).
///
/// The `T` new queries sit at absolute positions `past ..< past + T`; their keys and values
/// have already been appended to the cache, which therefore holds `L = past + T` rows. Query
/// `t` attends to cache rows `0 ... past + t`. Query head `h` reads KV head `h / (NH / NKV)`
/// (transformers' `repeat_kv`). Scores are scaled by `1 / sqrt(HS)`; the softmax runs in fp32
/// with the row maximum subtracted. From `attentionMinimumTiledRows` queries on (prefill), each
/// head is two sgemms per tile of query rows (`attendTiled`); fewer queries (decode) go one row
/// at a time, heads split across the pool's threads.
public enum CausalAttention {
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    att: UnsafeMutablePointer<Float>?,  // (NH, T, L) probabilities, 0 above the diagonal
    q: UnsafePointer<Float>,  // (T, NH, HS)
    keys: UnsafePointer<Float>,  // (L, NKV, HS): rows 0 ..< L of a cache of any capacity
    values: UnsafePointer<Float>,  // (L, NKV, HS)
    past: Int,
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int,
    pool: ThreadPool = .current
  ) {
    precondition(NKV > 0 && NH % NKV == 0, "\(NH) query heads do not group over \(NKV) KV heads")
    let L = past + T
    if T >= attentionMinimumTiledRows {
      attendTiled(
        out: out,
        att: att,
        q: q,
        keys: keys,
        values: values,
        past: past,
        T: T,
        L: L,
        NH: NH,
        NKV: NKV,
        HS: HS,
        causal: true
      )
      return
    }
    let group = NH / NKV
    let scale = 1 / Float(HS).squareRoot()
    pool.parallelFor(NH) { heads in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, L)) { scratch in
        for h in heads {
          let kvOffset = (h / group) * HS
          for t in 0..<T {
            let visible = past + t + 1
            let probabilities = att.map { $0 + (h * T + t) * L } ?? scratch.baseAddress!
            attendRow(
              out: out + (t * NH + h) * HS,
              probabilities: probabilities,
              q: q + (t * NH + h) * HS,
              keys: keys + kvOffset,
              values: values + kvOffset,
              count: visible,
              rowStride: NKV * HS,
              HS: HS,
              scale: scale
            )
            if visible < L { (probabilities + visible).update(repeating: 0, count: L - visible) }
          }
        }
      }
    }
  }

  /// Reference: plain scalar loops, one thread.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    att: UnsafeMutablePointer<Float>?,  // (NH, T, L)
    q: UnsafePointer<Float>,  // (T, NH, HS)
    keys: UnsafePointer<Float>,  // (L, NKV, HS)
    values: UnsafePointer<Float>,  // (L, NKV, HS)
    past: Int,
    T: Int,
    NH: Int,
    NKV: Int,
    HS: Int
  ) {
    let L = past + T
    for h in 0..<NH {
      let kvHead = h / (NH / NKV)
      for t in 0..<T {
        var weights = [Float](repeating: 0, count: L)
        naiveRow(
          out: out + (t * NH + h) * HS,
          weights: &weights,
          q: q + (t * NH + h) * HS,
          keys: keys + kvHead * HS,
          values: values + kvHead * HS,
          count: past + t + 1,
          rowStride: NKV * HS,
          HS: HS
        )
        if let att { (att + (h * T + t) * L).update(from: weights, count: L) }
      }
    }
  }
}

/// Attention without a mask (the CLIP vision tower): every token sees every token, and there
/// are as many KV heads as query heads. Same two paths as `CausalAttention`.
public enum BidirectionalAttention {
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    att: UnsafeMutablePointer<Float>?,  // (NH, T, T) probabilities
    q: UnsafePointer<Float>,  // (T, NH, HS)
    k: UnsafePointer<Float>,  // (T, NH, HS)
    v: UnsafePointer<Float>,  // (T, NH, HS)
    T: Int,
    NH: Int,
    HS: Int,
    pool: ThreadPool = .current
  ) {
    if T >= attentionMinimumTiledRows {
      attendTiled(
        out: out,
        att: att,
        q: q,
        keys: k,
        values: v,
        past: 0,
        T: T,
        L: T,
        NH: NH,
        NKV: NH,
        HS: HS,
        causal: false
      )
      return
    }
    let scale = 1 / Float(HS).squareRoot()
    pool.parallelFor(NH) { heads in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, T)) { scratch in
        for h in heads {
          for t in 0..<T {
            attendRow(
              out: out + (t * NH + h) * HS,
              probabilities: att.map { $0 + (h * T + t) * T } ?? scratch.baseAddress!,
              q: q + (t * NH + h) * HS,
              keys: k + h * HS,
              values: v + h * HS,
              count: T,
              rowStride: NH * HS,
              HS: HS,
              scale: scale
            )
          }
        }
      }
    }
  }

  /// Reference: plain scalar loops, one thread.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (T, NH, HS)
    att: UnsafeMutablePointer<Float>?,  // (NH, T, T)
    q: UnsafePointer<Float>,  // (T, NH, HS)
    k: UnsafePointer<Float>,  // (T, NH, HS)
    v: UnsafePointer<Float>,  // (T, NH, HS)
    T: Int,
    NH: Int,
    HS: Int
  ) {
    for h in 0..<NH {
      for t in 0..<T {
        var weights = [Float](repeating: 0, count: T)
        naiveRow(
          out: out + (t * NH + h) * HS,
          weights: &weights,
          q: q + (t * NH + h) * HS,
          keys: k + h * HS,
          values: v + h * HS,
          count: T,
          rowStride: NH * HS,
          HS: HS
        )
        if let att { (att + (h * T + t) * T).update(from: weights, count: T) }
      }
    }
  }
}

/// One query row against `count` key/value rows `rowStride` apart (fast path).
@inline(__always)
private func attendRow(
  out: UnsafeMutablePointer<Float>,  // (HS)
  probabilities: UnsafeMutablePointer<Float>,  // (count), written
  q: UnsafePointer<Float>,  // (HS)
  keys: UnsafePointer<Float>,  // (count, rowStride), first HS of each row used
  values: UnsafePointer<Float>,  // (count, rowStride)
  count: Int,
  rowStride: Int,
  HS: Int,
  scale: Float
) {
  var maximum = -Float.infinity
  for s in 0..<count {
    let score = dot(q, keys + s * rowStride, HS) * scale
    probabilities[s] = score
    maximum = max(maximum, score)
  }
  var sum: Float = 0
  for s in 0..<count {
    let e = expf(probabilities[s] - maximum)
    probabilities[s] = e
    sum += e
  }
  let normalizer = 1 / sum
  out.update(repeating: 0, count: HS)
  for s in 0..<count {
    probabilities[s] *= normalizer
    axpy(out, probabilities[s], values + s * rowStride, HS)
  }
}

/// Reference for one row: scores, softmax and weighted sum as written in the paper.
private func naiveRow(
  out: UnsafeMutablePointer<Float>,  // (HS)
  weights: inout [Float],  // (≥ count), first count written
  q: UnsafePointer<Float>,  // (HS)
  keys: UnsafePointer<Float>,  // (count, rowStride)
  values: UnsafePointer<Float>,  // (count, rowStride)
  count: Int,
  rowStride: Int,
  HS: Int
) {
  for s in 0..<count {
    var score: Float = 0
    for i in 0..<HS { score += q[i] * keys[s * rowStride + i] }
    weights[s] = score / Float(HS).squareRoot()
  }
  let maximum = weights[0..<count].max() ?? 0
  for s in 0..<count { weights[s] = expf(weights[s] - maximum) }
  let sum = weights[0..<count].reduce(0, +)
  for s in 0..<count { weights[s] /= sum }
  for i in 0..<HS {
    var value: Float = 0
    for s in 0..<count { value += weights[s] * values[s * rowStride + i] }
    out[i] = value
  }
}
