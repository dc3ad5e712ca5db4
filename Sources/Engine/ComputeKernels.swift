// One line that says which compute kernels this process runs, for the start-up log and
// Admin.GetModelInfo: each path is chosen at run time from the CPU's features (and the RLHFD_NO_*
// switches), so the same binary reports different lines on different hosts.
public enum ComputeKernels {
  /// e.g. "openblas core=SkylakeX (OpenBLAS chose Prescott; probed …; cached in …), 1 thread in 2-thread engine pools;
  /// gemv avx512; bf16 products amx; fp32 products amx-split3; vision attention fp32 sgemm,
  /// bf16 amx". The core and why: `BLASCoreSelection`.
  public static var summary: String {
    let core = BLASCoreSelection.current.summary
    let gemv = GEMV.usesAVX512 ? "avx512" : "avx2"
    let bf16 = BF16Products.path.rawValue
    // OpenBLAS single-threaded: products split over the engine's pools (`SGEMM`).
    let threads =
      BLASThreads.count == 1
      ? "1 thread in \(ThreadPool.shared.threadCount)-thread engine pools"
      : "\(BLASThreads.count) threads"
    // fp32 products over bf16 weights: split into bf16 parts on AMX, else GEMV / sgemm.
    let fp32 = BF16Products.splitsFP32 ? "amx-split3" : "gemv/sgemm"
    // Unmasked (vision) attention per precision: `BidirectionalAttention.path(for:)`.
    let attention = BidirectionalAttention.self
    let vision =
      "fp32 \(attention.path(for: .fp32).rawValue), bf16 \(attention.path(for: .bf16).rawValue)"
    return
      "openblas core=\(core), \(threads); gemv \(gemv); bf16 products \(bf16); "
      + "fp32 products \(fp32); vision attention \(vision)"
  }
}
