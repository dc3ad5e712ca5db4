import CBLAS

/// OpenBLAS's own thread pool, which runs every `cblas_sgemm` (the engine's `ThreadPool` runs
/// the hand-written kernels). Debian's pthread build starts one thread per core, or
/// `OPENBLAS_NUM_THREADS`; leave the environment alone in tests and CI.
public enum BLASThreads {
  /// Threads OpenBLAS uses for one call.
  public static var count: Int { Int(openblas_get_num_threads()) }

  /// Sets the threads OpenBLAS uses (process-wide).
  public static func setCount(_ count: Int) {
    precondition(count >= 1, "OpenBLAS needs at least one thread")
    openblas_set_num_threads(Int32(count))
  }

  /// OpenBLAS's build configuration and the kernel set it picked for this CPU, for logs.
  public static var configuration: String {
    String(cString: openblas_get_config()) + " core=" + String(cString: openblas_get_corename())
  }
}
