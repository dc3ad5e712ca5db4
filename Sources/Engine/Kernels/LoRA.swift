// LoRA on top of a frozen base product (Punica / S-LoRA style): a batch's base linear runs once
// over all M rows, then each adapter adds its delta to its own rows only,
//   out[rows] += scale · (in[rows] · Aᵀ) · Bᵀ,
// as two small products over the R gathered rows (R × r × K, then R × N × r) and a scatter-add.
// Never merged into W: the base weights stay shared and immutable. `forwardNaive` is the
// naive loop the fast path is tested against. (The trainer adds the backward: dA, dB, dIn.)
import CBLAS

/// One adapted linear: `W (N, K)` becomes `W + scale · B · A` for the rows that use it.
public struct LoRAWeights: @unchecked Sendable {
  /// `(r, K)`: PEFT's `lora_A.weight`.
  public let a: WeightView
  /// `(N, r)`: PEFT's `lora_B.weight`.
  public let b: WeightView
  /// `lora_alpha / r` (or `/ √r` with rsLoRA).
  public let scale: Float

  public init(a: WeightView, b: WeightView, scale: Float) {
    precondition(
      a.shape.count == 2 && b.shape.count == 2 && a.rows == b.columns,
      "LoRA A \(a.shape) and B \(b.shape) are not (r, K) and (N, r)"
    )
    self.a = a
    self.b = b
    self.scale = scale
  }

  public var rank: Int { a.rows }
  public var inFeatures: Int { a.columns }
  public var outFeatures: Int { b.rows }
}

public enum LoRA {
  /// `out[rows[i]] += scale · (in[rows[i]] · Aᵀ) · Bᵀ` for each of the `R` listed rows.
  /// When the rows are `0 ..< M` in order (one adapter for the whole input) nothing is gathered.
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    rows: UnsafeBufferPointer<Int32>,  // (R) distinct row indices into out and in
    lora: LoRAWeights,  // A (r, K), B (N, r)
    N: Int,
    K: Int,
    pool: ThreadPool = .current
  ) {
    precondition(lora.inFeatures == K && lora.outFeatures == N, "LoRA shape is not (\(N), \(K))")
    let (R, r) = (rows.count, lora.rank)
    guard R > 0, N > 0 else { return }
    let contiguous = rows.indices.allSatisfy { Int(rows[$0]) == Int(rows[0]) + $0 }
    let scratchCount = (contiguous ? 0 : R * K) + R * r + R * N
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(scratchCount, 1)) { scratch in
      var x = input + (contiguous ? Int(rows[0]) * K : 0)  // (R, K)
      var next = scratch.baseAddress!
      if !contiguous {
        for i in 0..<R { (next + i * K).update(from: input + Int(rows[i]) * K, count: K) }
        x = UnsafePointer(next)
        next += R * K
      }
      let h = next  // (R, r) = x · Aᵀ
      let delta = next + R * r  // (R, N) = h · Bᵀ
      Matmul.forward(out: h, in: x, weight: lora.a, bias: nil, M: R, N: r, K: K, pool: pool)
      Matmul.forward(out: delta, in: h, weight: lora.b, bias: nil, M: R, N: N, K: r, pool: pool)
      for i in 0..<R {
        cblas_saxpy(blasint(N), lora.scale, delta + i * N, 1, out + Int(rows[i]) * N, 1)
      }
    }
  }

  /// Several adapters' deltas on one linear's output, each on its own (disjoint) rows: as
  /// `forward` per adapter, but when every group is a decode-sized handful of rows (≤
  /// `GEMV.maxRows`) the groups (or, with fewer groups than threads, parts of their rows) run
  /// in parallel, each on one thread, so that a step pays one fork per linear instead of two
  /// per adapter (each part's products then run serially on its thread: GEMV or BF16Products,
  /// no BLAS).
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    groups rows: [[Int32]],  // (G)(R_g) disjoint row indices per adapter
    loras: [LoRAWeights],  // (G) A (r, K), B (N, r)
    N: Int,
    K: Int,
    pool: ThreadPool = .current
  ) {
    precondition(rows.count == loras.count, "\(rows.count) row groups for \(loras.count) adapters")
    func run(_ g: Int) {
      rows[g].withUnsafeBufferPointer {
        forward(out: out, in: input, rows: $0, lora: loras[g], N: N, K: K, pool: pool)
      }
    }
    guard !rows.isEmpty, rows.allSatisfy({ $0.count <= GEMV.maxRows }) else {
      for g in rows.indices { run(g) }
      return
    }
    // Fewer adapters than threads: each adapter's rows are split between the threads too.
    let parts = rows.count < pool.threadCount ? pool.threadCount : 1
    var work: [(group: Int, rows: ArraySlice<Int32>)] = []
    for (g, list) in rows.enumerated() {
      let size = (list.count + parts - 1) / parts
      for start in stride(from: 0, to: list.count, by: max(size, 1)) {
        work.append((g, list[start..<min(list.count, start + size)]))
      }
    }
    guard work.count > 1 else {
      for g in rows.indices { run(g) }
      return
    }
    pool.parallelFor(work.count) { range in
      for item in work[range] {
        item.rows.withUnsafeBufferPointer {
          forward(out: out, in: input, rows: $0, lora: loras[item.group], N: N, K: K, pool: pool)
        }
      }
    }
  }

  /// Naive reference: per row, `h = scale · in·Aᵀ` in fp32 loops, then `out += h·Bᵀ`.
  public static func forwardNaive(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    rows: UnsafeBufferPointer<Int32>,  // (R)
    lora: LoRAWeights,  // A (r, K), B (N, r)
    N: Int,
    K: Int
  ) {
    let r = lora.rank
    var h = [Float](repeating: 0, count: r)
    for row in rows {
      let x = input + Int(row) * K
      for j in 0..<r {
        var sum: Float = 0
        for k in 0..<K { sum += x[k] * lora.a.element(j * K + k) }
        h[j] = sum
      }
      for n in 0..<N {
        var sum: Float = 0
        for j in 0..<r { sum += h[j] * lora.b.element(n * r + j) }
        out[Int(row) * N + n] += lora.scale * sum
      }
    }
  }
}
