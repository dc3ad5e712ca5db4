// The gradient through a frozen bf16 weight at the forward's rate: `dIn (M, K) = dOut (M, N) ·
// W (N, K)` is `dOut · (Wᵀ)ᵀ`, a forward product over the transposed weight Wᵀ `(K, N)`. So a
// trainer keeps a transposed copy (plain bf16 + panels, packed as the weight's own: for split
// activations where the weight's are (exact fp32 products, `forwardSplit`: `precision: fp32` on
// AMX), else for bf16-rounded ones (`precision: bf16`: dOut is rounded to bf16 as the forward's
// activations are)) and calls `Matmul.forward(in: dOut, weight: transposed)`, instead of
// `Matmul.backwardInput`'s bf16 → fp32 block conversion and sgemm. Twice the weight's bf16
// bytes. The transpose runs in 32 × 32 tiles, split across the pool by tile columns.

extension BF16Products {
  /// Bytes of the transposed plain copy and of its panels, for a `(N, K)` weight.
  public static func transposedByteCounts(rows N: Int, columns K: Int) -> (plain: Int, panels: Int)
  {
    (N * K * 2, panelByteCount(rows: K, columns: N))
  }

  /// Writes Wᵀ `(K, N)` of the bf16 `weight (N, K)` into `plain` (`N·K·2` bytes), packs it into
  /// `panels` (`transposedByteCounts(...).panels` bytes, 64-byte aligned), for split activations
  /// when `splitting` (default: as `weight`'s panels), and returns the view (valid while both
  /// buffers are).
  public static func packTransposed(
    _ weight: WeightView,
    plain: UnsafeMutableRawPointer,
    panels: UnsafeMutableRawPointer,
    splitting: Bool? = nil,
    pool: ThreadPool = .current
  ) -> WeightView {
    precondition(
      weight.dtype == .bf16 && weight.shape.count == 2,
      "transposing a \(weight.dtype) \(weight.shape)"
    )
    let (N, K) = (weight.rows, weight.columns)
    let source = weight.base.assumingMemoryBound(to: UInt16.self)  // (N, K)
    let target = plain.assumingMemoryBound(to: UInt16.self)  // (K, N)
    let tile = 32
    pool.parallelFor((K + tile - 1) / tile) { blocks in
      for kb in blocks {
        let k0 = kb * tile
        for n0 in stride(from: 0, to: N, by: tile) {
          for n in n0..<min(N, n0 + tile) {
            for k in k0..<min(K, k0 + tile) { target[k * N + n] = source[n * K + k] }
          }
        }
      }
    }
    let bytes = UnsafeRawBufferPointer(start: plain, count: N * K * 2)
    let view: WeightView
    do { view = try WeightView(bytes: bytes, dtype: .bf16, shape: [K, N]) } catch {
      preconditionFailure("transposed weight: \(error)")  // sized by construction
    }
    return pack(view, into: panels, splitting: splitting ?? weight.splitsActivations, pool: pool)
  }
}
