// One line that says which compute kernels this process runs, for the start-up log and
// Admin.GetModelInfo: each path is chosen at run time from the CPU's features (and the RLHFD_NO_*
// switches), so the same binary reports different lines on different hosts.
import CBLAS

public enum ComputeKernels {
  /// e.g. "openblas core=SkylakeX, 2 threads; gemv avx512; bf16 products avx512bf16".
  public static var summary: String {
    let core = String(cString: openblas_get_corename())
    let gemv = GEMV.usesAVX512 ? "avx512" : "avx2"
    let bf16 = BF16Products.isSupported ? "avx512bf16" : "unsupported"
    let threads = BLASThreads.count
    return "openblas core=\(core), \(threads) threads; gemv \(gemv); bf16 products \(bf16)"
  }
}
