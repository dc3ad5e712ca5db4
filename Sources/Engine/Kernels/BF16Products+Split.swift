import CKernels
import Glibc

// fp32 products on the bf16 panels (`precision: fp32` where AMX runs): the activations are not
// rounded but split, x = hi + mid + lo with three bf16 values (bf16_split.c), and the weights
// (bf16, so exact in bf16) meet all three parts in one AMX product: 5 source rows' hi, mid and
// lo parts share a 16-row tile and each row's three sums are added when it is written. The fp32
// product of the stored weights, the same numbers as the fp32 GEMV or sgemm up to fp32
// summation order (and bf16's flush of values below 2^-126), at 5/16 of AMX's bf16 rate for
// large M and at its speed for decode (one row's parts fill one tile).
extension BF16Products {
  /// Whether fp32 products over bf16 weights take `forwardSplit` in this process: AMX in use
  /// (`path == .amx`, so `RLHFD_NO_AMX=1` turns it off too) and not `RLHFD_NO_AMX_FP32=1`.
  public static let splitsFP32: Bool =
    path == .amx && getenv("RLHFD_NO_AMX_FP32").map { String(cString: $0) } != "1"

  /// `out = in · W^T + bias` (or `out += …`) in fp32 for a bf16 weight with panels, on AMX.
  public static func forwardSplit(
    out: UnsafeMutablePointer<Float>,  // (M, N)
    in input: UnsafePointer<Float>,  // (M, K)
    weight: WeightView,  // (N, K) with bf16Panels
    bias: UnsafePointer<Float>?,  // (N)
    M: Int,
    N: Int,
    K: Int,
    accumulate: Bool = false,
    pool: ThreadPool = .current
  ) {
    precondition(amxAvailable, "split fp32 products need AMX")
    guard let panels = weight.bf16Panels else { preconditionFailure("weight has no bf16 panels") }
    weight.requireShape(N, K)
    guard M > 0, N > 0 else { return }
    let (rows, stride) = (ckernels_bf16_split3_rows(M), ckernels_bf16_amx_row_stride(K))
    let x = UnsafeMutablePointer<UInt16>.allocate(capacity: rows * stride)  // (rows, K)
    defer { x.deallocate() }
    pool.parallelFor(rows / 16, minimumChunk: max(1, (1 << 12) / stride)) { tiles in
      ckernels_bf16_split3_padded(x, input, M, K, tiles.lowerBound, tiles.upperBound)
    }
    products(
      out: out,
      x: x,
      panels: panels,
      bias: bias,
      M: M,
      N: N,
      K: K,
      accumulate: accumulate,
      kernel: .amxSplit,
      pool: pool
    )
  }
}
