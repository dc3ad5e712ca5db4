// Matmul over stored weights (`WeightView`: f32, f16 or bf16 in borrowed memory).
// bf16 weights with panels attached (`precision: bf16`) take `BF16Products` at every M.
// Small M goes to the hand-written GEMV, which reads half-precision weights directly and is
// bound by memory bandwidth. Large M is compute-bound: half-precision weights are converted to
// fp32 one block of rows at a time (the conversion is paid once per M rows) and sgemm runs on
// each block, so no full fp32 copy of the weights ever exists.
extension Matmul {
  /// fp32 elements converted per block (4 MiB): a few hundred weight rows, enough for sgemm
  /// to run at full speed on each block.
  static let conversionBlockElements = 1 << 20

  /// `out = in · W^T + bias` (or `out += …` when `accumulate`) for weights of any dtype.
  public static func forward(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: WeightView,  // (N, K)
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false,
    pool: ThreadPool = .current
  ) {
    weight.requireShape(N, K)
    if weight.bf16Panels != nil {
      BF16Products.forward(
        out: out,
        in: input,
        weight: weight,
        bias: bias,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate,
        pool: pool
      )
    } else if M <= GEMV.maxRows {
      GEMV.forward(
        out: out,
        in: input,
        weight: weight,
        bias: bias,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate,
        pool: pool
      )
    } else if weight.dtype == .f32 {
      forward(
        out: out,
        in: input,
        weight: weight.base.assumingMemoryBound(to: Float.self),
        bias: bias,
        M: M,
        N: N,
        K: K,
        accumulate: accumulate
      )
    } else {
      forEachConvertedBlock(of: weight, pool: pool) { block, rows in
        gemm(
          out: out + rows.lowerBound,
          outStride: N,
          in: input,
          weight: block,
          bias: bias.map { $0 + rows.lowerBound },
          M: M,
          N: rows.count,
          K: K,
          accumulate: accumulate
        )
      }
    }
  }

  /// `dIn = dOut · W` through frozen weights of any dtype (LoRA training over a bf16 base:
  /// the base gets no gradient, but the activations below it do). `dIn` is overwritten.
  public static func backwardInput(
    dIn: UnsafeMutablePointer<Float>,  // (M, K)
    dOut: UnsafePointer<Float>,  // (M, N)
    weight: WeightView,  // (N, K)
    M: Int,
    N: Int,
    K: Int,
    pool: ThreadPool = .current
  ) {
    weight.requireShape(N, K)
    guard M > 0, K > 0 else { return }
    dIn.update(repeating: 0, count: M * K)
    guard N > 0 else { return }
    forEachConvertedBlock(of: weight, pool: pool) { block, rows in
      // dIn(M, K) += dOut(M, rows) · W(rows, K)
      SGEMM.product(
        .normal,
        .normal,
        M: M,
        N: K,
        K: rows.count,
        alpha: 1,
        dOut + rows.lowerBound,
        lda: N,
        block,
        ldb: K,
        beta: 1,
        dIn,
        ldc: K
      )
    }
  }

  /// Calls `body` with consecutive blocks of weight rows as fp32 `(rows.count, K)`: the
  /// weights themselves when they are fp32, otherwise a scratch block converted in parallel.
  static func forEachConvertedBlock(
    of weight: WeightView,  // (N, K)
    pool: ThreadPool,
    _ body: (UnsafePointer<Float>, Range<Int>) -> Void
  ) {
    let N = weight.rows
    let K = weight.columns
    guard N > 0 else { return }
    if weight.dtype == .f32 {
      body(weight.base.assumingMemoryBound(to: Float.self), 0..<N)
      return
    }
    let blockRows = max(1, min(N, conversionBlockElements / max(K, 1)))
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, blockRows * K)) { scratch in
      let block = scratch.baseAddress!
      for start in stride(from: 0, to: N, by: blockRows) {
        let rows = start..<min(N, start + blockRows)
        pool.parallelFor(rows.count) { part in
          weight.convertRows(
            (start + part.lowerBound)..<(start + part.upperBound),
            into: block + part.lowerBound * K
          )
        }
        body(block, rows)
      }
    }
  }
}
