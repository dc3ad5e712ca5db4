// `EngineBench --kernels`, `precision: bf16`: the panel products (activations rounded to bf16)
// on each kernel the CPU runs, AMX tiles first where available (also under RLHFD_NO_AMX=1),
// then AVX512-BF16, at M = 512, 32, 8 (L2-resident weights) and M = 1 (weights from memory).
import Engine

extension KernelBench {
  static func bf16Panels(runs: Int) throws {
    let paths: [BF16Products.Path] =
      (BF16Products.amxAvailable ? [.amx] : []) + (BF16Products.isSupported ? [.avx512bf16] : [])
    for path in paths {
      for M in [512, 32, 8] {
        for (N, K) in [(2048, 2048), (5632, 2048), (2048, 5632)] {
          try bf16Matmul(M: M, N: N, K: K, runs: runs, panels: path)
        }
      }
      for (N, K) in [(5632, 2048), (2048, 5632), (32000, 2048)] {
        try gemv(N: N, K: K, runs: runs, panels: path)
      }
    }
    // `precision: fp32` on AMX: the same panels, activations split in three (against the
    // "bf16 matmul" / "bf16 GEMV" lines above: convert + sgemm, or the fp32 GEMV).
    guard BF16Products.amxAvailable else { return }
    for M in [512, 32, 8] {
      for (N, K) in [(2048, 2048), (5632, 2048), (2048, 5632)] {
        try bf16Matmul(M: M, N: N, K: K, runs: runs, split: true)
      }
    }
    for (N, K) in [(5632, 2048), (2048, 5632), (32000, 2048)] {
      try gemv(N: N, K: K, runs: runs, split: true)
    }
  }

  /// `precision: bf16` products on `path`, no bias.
  static func panelProduct(
    _ path: BF16Products.Path,
    _ out: UnsafeMutablePointer<Float>,
    _ input: UnsafePointer<Float>,
    _ weight: WeightView,
    M: Int,
    N: Int,
    K: Int
  ) {
    let (x, w) = (input, weight)
    BF16Products.forward(
      out: out,
      in: x,
      weight: w,
      bias: nil,
      M: M,
      N: N,
      K: K,
      path: path,
      pool: pool
    )
  }
}
