// LoRA pairs of several linears that read one input (a Llama layer's q, k and v all read the
// normed stream; gate and up read theirs), their A matrices stacked into one `(Σ r_t, K)` matrix:
// each adapter's rows then pay one A product (one gather, one bf16 rounding of the rows, one pass
// over the stacked A) instead of one per linear, and a layer's adapters fork once per input
// instead of once per linear. Each part's B product and scatter-add stay its own:
//   h = in[rows] · Aᵀ (R, S), then out_t[rows] += scale_t · h[:, off_t ..< off_t + r_t] · B_tᵀ.
// Same values as `forward` per linear (each h column is the same dot product).
// `forwardStackedNaive` is the naive reference.
import CBLAS

/// LoRA pairs over one input with their A matrices stacked: part `t`'s A is rows
/// `offsets[t] ..< offsets[t] + parts[t].rank` of `a`; its delta goes to the caller's output
/// `targets[t]`.
public struct LoRAStack: @unchecked Sendable {
  /// `(S, K)`, S = Σ r_t: the parts' A matrices one after another.
  public let a: WeightView
  /// Each part's pair (its `a` the same rows of `a`, its B and scale).
  public let parts: [LoRAWeights]
  /// The caller's output index of each part.
  public let targets: [Int]
  /// Each part's first row in `a`.
  public let offsets: [Int]

  public init(a: WeightView, parts: [LoRAWeights], targets: [Int]) {
    precondition(parts.count == targets.count && !parts.isEmpty, "a LoRA stack needs parts")
    precondition(
      parts.allSatisfy { $0.inFeatures == a.columns }
        && parts.reduce(0, { $0 + $1.rank }) == a.rows,
      "LoRA stack A \(a.shape) does not hold its parts' A matrices"
    )
    self.a = a
    self.parts = parts
    self.targets = targets
    var offsets: [Int] = []
    var offset = 0
    for part in parts {
      offsets.append(offset)
      offset += part.rank
    }
    self.offsets = offsets
  }

  public var inFeatures: Int { a.columns }
}

extension LoRA {
  /// For each adapter `g` (its disjoint `rows[g]`) and each part `t` of its stack:
  /// `outs[target_t][rows] += scale_t · (in[rows] · A_tᵀ) · B_tᵀ`, with one product over the
  /// stacked A per adapter. Decode-sized groups (≤ `GEMV.maxRows` rows each) run in parallel,
  /// one fork for all (as `forward(groups:)`); larger ones one after another, their products
  /// split across the pool.
  public static func forward(
    outs: [UnsafeMutablePointer<Float>],  // (T)(M, N_t)
    N: [Int],  // (T)
    in input: UnsafePointer<Float>,  // (M, K)
    groups rows: [[Int32]],  // (G)(R_g) disjoint row indices per adapter
    stacks: [LoRAStack],  // (G)
    K: Int,
    pool: ThreadPool = .current
  ) {
    precondition(rows.count == stacks.count, "\(rows.count) row groups for \(stacks.count) stacks")
    precondition(outs.count == N.count, "\(outs.count) outputs for \(N.count) widths")
    for stack in stacks {
      precondition(stack.inFeatures == K, "LoRA stack A is not (_, \(K))")
      for (part, t) in zip(stack.parts, stack.targets) {
        precondition(part.outFeatures == N[t], "LoRA stack B is not (\(N[t]), _)")
      }
    }
    func run(_ g: Int, _ list: ArraySlice<Int32>, _ pool: ThreadPool) {
      list.withUnsafeBufferPointer {
        stacked(outs: outs, N: N, in: input, rows: $0, stack: stacks[g], K: K, pool: pool)
      }
    }
    guard !rows.isEmpty, rows.allSatisfy({ $0.count <= GEMV.maxRows }) else {
      for g in rows.indices { run(g, rows[g][...], pool) }
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
      for item in work { run(item.group, item.rows, pool) }
      return
    }
    pool.parallelFor(work.count) { range in
      for item in work[range] { run(item.group, item.rows, pool) }
    }
  }

  /// One adapter's rows through its whole stack.
  static func stacked(
    outs: [UnsafeMutablePointer<Float>],
    N: [Int],
    in input: UnsafePointer<Float>,  // (M, K)
    rows: UnsafeBufferPointer<Int32>,  // (R)
    stack: LoRAStack,
    K: Int,
    pool: ThreadPool
  ) {
    let (R, S) = (rows.count, stack.a.rows)
    guard R > 0 else { return }
    let contiguous = rows.indices.allSatisfy { Int(rows[$0]) == Int(rows[0]) + $0 }
    let widest = stack.parts.reduce(0) { max($0, $1.outFeatures) }
    let rMax = stack.parts.reduce(0) { max($0, $1.rank) }
    let scratchCount = (contiguous ? 0 : R * K) + R * S + R * rMax + R * widest
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(scratchCount, 1)) { scratch in
      var x = input + (contiguous ? Int(rows[0]) * K : 0)  // (R, K)
      var next = scratch.baseAddress!
      if !contiguous {
        for i in 0..<R { (next + i * K).update(from: input + Int(rows[i]) * K, count: K) }
        x = UnsafePointer(next)
        next += R * K
      }
      let h = next  // (R, S) = x · Aᵀ
      let ht = h + R * S  // (R, r_t): part t's columns of h
      let delta = ht + R * rMax  // (R, N_t) = h_t · B_tᵀ
      Matmul.forward(out: h, in: x, weight: stack.a, bias: nil, M: R, N: S, K: K, pool: pool)
      for (t, part) in stack.parts.enumerated() {
        let (r, Nt, out) = (part.rank, part.outFeatures, outs[stack.targets[t]])
        var hPart = UnsafePointer(h)
        if S != r {
          for i in 0..<R { (ht + i * r).update(from: h + i * S + stack.offsets[t], count: r) }
          hPart = UnsafePointer(ht)
        }
        Matmul.forward(
          out: delta,
          in: hPart,
          weight: part.b,
          bias: nil,
          M: R,
          N: Nt,
          K: r,
          pool: pool
        )
        for i in 0..<R {
          cblas_saxpy(blasint(Nt), part.scale, delta + i * Nt, 1, out + Int(rows[i]) * Nt, 1)
        }
      }
    }
  }

  /// Naive reference of the stacked forward: each part through `forwardNaive` on its own A rows.
  public static func forwardStackedNaive(
    outs: [UnsafeMutablePointer<Float>],  // (T)(M, N_t)
    in input: UnsafePointer<Float>,  // (M, K)
    rows: UnsafeBufferPointer<Int32>,  // (R)
    stack: LoRAStack,
    K: Int
  ) {
    for (t, part) in stack.parts.enumerated() {
      forwardNaive(
        out: outs[stack.targets[t]],
        in: input,
        rows: rows,
        lora: part,
        N: part.outFeatures,
        K: K
      )
    }
  }
}
