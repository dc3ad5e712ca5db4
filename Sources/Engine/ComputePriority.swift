// The scheduling priority of the threads that compute (the engine's step threads, this module's
// `ThreadPool` workers, OpenBLAS's threads, image encoding, training). On a host with as many
// busy compute threads as cores, the threads that answer calls (gRPC's poller, Swift's
// cooperative pool) wait a CFS slice behind them; running compute a few nice levels lower
// lets those threads preempt it at once, while compute still gets every cycle nobody else
// wants. Linux keeps a nice value per thread, and a new thread inherits its creator's.
import Glibc
import Synchronization

/// How much nicer than the process compute threads run. See the file comment.
public enum ComputePriority {
  private static let offset = Atomic<Int32>(0)

  /// Nice levels added to the process's own for compute threads (0 = the same priority).
  public static var niceness: Int32 { offset.load(ordering: .relaxed) }

  /// Sets `niceness` (clamped to 0...19) and applies it to OpenBLAS's threads, which OpenBLAS
  /// started when the library loaded: they are stopped and started again from a thread that runs
  /// at the new priority, so they inherit it. Threads started later (`ThreadPool` workers, the
  /// callers of `lowerCurrentThread`) read the setting when they start. Call once at startup,
  /// before anything computes: no BLAS call may run meanwhile. Returns what was applied, for a
  /// log line.
  @discardableResult
  public static func set(niceness: Int32) -> String {
    let value = min(19, max(0, niceness))
    offset.store(value, ordering: .relaxed)
    guard value > 0 else { return "compute threads at the process's priority" }
    let blas = restartBLASThreads()
    return "compute threads \(value) nice levels below the process (OpenBLAS threads: \(blas))"
  }

  /// Lowers the calling thread to the process's priority plus `niceness` plus `extra` (for work
  /// that should yield even to the engine, e.g. request preprocessing) and names it `name` (as
  /// `top -H` and /proc show it; 15 bytes kept). Idempotent; a thread that already runs lower
  /// keeps its priority (raising it back needs privileges).
  public static func lowerCurrentThread(name: String? = nil, extra: Int32 = 0) {
    if let name { setThreadName(name) }
    let value = niceness + extra
    guard value > 0 else { return }
    lower(thread: 0, by: value)
  }

  /// Lowers the calling thread to nice value `niceness` (absolute) unless it already runs at that
  /// or lower: the training threads' fixed nice value on top of the compute offset.
  public static func lowerCurrentThread(toAtLeast niceness: Int32) {
    let which = __priority_which_t(PRIO_PROCESS.rawValue)
    // On Linux the nice value is per thread and `who = 0` names the caller (setpriority(2), BUGS).
    if currentThreadNiceness < niceness { _ = setpriority(which, 0, min(19, niceness)) }
  }

  /// The calling thread's nice value.
  public static var currentThreadNiceness: Int32 {
    getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
  }

  /// Sets thread `tid` (0 = the caller) to the process's nice value plus `by`.
  static func lower(thread tid: pid_t, by value: Int32) {
    let which = __priority_which_t(PRIO_PROCESS.rawValue)
    // The process id names the main thread: its nice value is the process's.
    errno = 0
    let base = getpriority(which, id_t(getpid()))
    guard errno == 0 else { return }
    let target = min(19, base + value)
    if getpriority(which, id_t(tid)) < target { _ = setpriority(which, id_t(tid), target) }
  }

  /// Stops OpenBLAS's server threads and starts them again from a thread at the lowered
  /// priority (the same two calls OpenBLAS makes around `fork`). Looked up at run time: a BLAS
  /// build without them (OpenMP) keeps its threads as they are.
  private static func restartBLASThreads() -> String {
    typealias Call = @convention(c) () -> Int32
    guard let shutdownSymbol = dlsym(nil, "blas_thread_shutdown_"),
      let initSymbol = dlsym(nil, "blas_thread_init")
    else { return "not restarted: this OpenBLAS has no blas_thread_init" }
    let shutdown = unsafeBitCast(shutdownSymbol, to: Call.self)
    let start = unsafeBitCast(initSymbol, to: Call.self)
    let status = onLoweredThread {
      _ = shutdown()
      return start()
    }
    return status == 0 ? "restarted at the lower priority" : "restart failed: \(status)"
  }

  /// Names the calling thread (Foundation on Linux does not pass `Thread.name` to the kernel, and
  /// a new thread inherits its creator's name).
  static func setThreadName(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
  }

  /// Runs `body` on a new thread at the lowered priority and returns its result.
  private static func onLoweredThread(_ body: @escaping () -> Int32) -> Int32 {
    final class Job {
      let body: () -> Int32
      var result: Int32 = -1
      init(_ body: @escaping () -> Int32) { self.body = body }
    }
    let job = Job(body)
    let context = Unmanaged.passRetained(job)
    var thread = pthread_t()
    let status = pthread_create(
      &thread,
      nil,
      { raw in
        let job = Unmanaged<Job>.fromOpaque(raw!).takeUnretainedValue()
        // OpenBLAS's threads inherit this thread's priority and name.
        ComputePriority.lowerCurrentThread(name: "blas")
        job.result = job.body()
        return nil
      },
      context.toOpaque()
    )
    guard status == 0 else {
      context.release()
      return status
    }
    pthread_join(thread, nil)
    context.release()
    return job.result
  }
}
