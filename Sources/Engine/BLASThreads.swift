import CBLAS

/// OpenBLAS's own thread pool, which runs `cblas_sgemm` when it has more than one thread (the
/// engine's `ThreadPool` runs the hand-written kernels, and products when OpenBLAS has one). Debian's pthread build starts one thread per core, or
/// `OPENBLAS_NUM_THREADS`; leave the environment alone in tests and CI.
public enum BLASThreads {
  /// Threads OpenBLAS uses for one call.
  public static var count: Int { Int(openblas_get_num_threads()) }

  /// Sets the threads OpenBLAS uses (process-wide).
  public static func setCount(_ count: Int) {
    precondition(count >= 1, "OpenBLAS needs at least one thread")
    openblas_set_num_threads(Int32(count))
  }

  /// OpenBLAS single-threaded: its threads stay idle and `SGEMM` splits products over the
  /// engine's pools instead (the pool of the calling thread), so the trainer's products run on
  /// its own low-priority threads and serving's never wait for OpenBLAS's global level-3 lock.
  /// Called by the daemon and the benchmarks that measure it.
  public static func useEnginePools() { setCount(1) }

  /// OpenBLAS's build configuration and the kernel set it picked for this CPU, for logs.
  public static var configuration: String {
    String(cString: openblas_get_config()) + " core=" + String(cString: openblas_get_corename())
  }
}
