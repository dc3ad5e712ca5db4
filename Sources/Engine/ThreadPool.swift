import Glibc
import Synchronization

/// A tiny fork-join pool of pthreads for the kernels (no Swift concurrency inside the engine).
///
/// `parallelFor(count)` splits `0 ..< count` into one contiguous chunk per thread, runs chunk 0
/// on the calling thread and the others on the pool's workers, and returns when every chunk is
/// done. Kernels split by output rows (GEMV) or by heads (attention), so chunks never write to
/// the same memory.
///
/// Matrix products go through `SGEMM`, which splits them over the pool when OpenBLAS runs
/// single-threaded (`BLASThreads.useEnginePools`, as the daemon does) and otherwise leaves them to
/// OpenBLAS's own threads; between jobs idle workers poll with `sched_yield` (so other threads get
/// the core when they have work) and sleep after ~1 ms.
///
/// Kernels run on `ThreadPool.current` unless given a pool: the shared pool, or the one a thread
/// adopted with `makeCurrent` (the trainer's pthread runs its kernels on a pool of its own whose
/// threads have a lower priority, so that serving keeps the cores it needs).
///
/// One job runs at a time. A call made while the pool is busy (from another thread, or from
/// inside a chunk) runs serially on its caller instead of waiting, so it never deadlocks.
public final class ThreadPool: Sendable {
  /// The pool the kernels use unless given another: one thread per core, at most two (this
  /// machine class has two cores; more threads than cores only adds switching).
  public static let shared = ThreadPool(threadCount: defaultThreadCount)

  /// One thread per core, at most two: the shared pool's size and the trainer's default.
  public static let defaultThreadCount = min(2, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))

  /// Threads that run chunks, the calling thread included.
  public let threadCount: Int
  private let state: PoolState
  private let workers: [pthread_t]

  /// The nice value of the worker threads (0 = the process's priority).
  public let niceness: Int32

  /// Starts `threadCount - 1` worker threads (the caller of `parallelFor` is the other one) at
  /// `ComputePriority`'s niceness, or nice value `niceness` when that is lower (Linux sets it per
  /// thread; lowering a thread's priority needs no privilege).
  /// Workers are named `name` (as `top -H` and /proc show them).
  public init(threadCount: Int, niceness: Int32 = 0, name: String = "engine-pool") {
    precondition(threadCount >= 1, "a pool needs at least one thread")
    self.threadCount = threadCount
    self.niceness = niceness
    let state = PoolState(workerCount: threadCount - 1)
    self.state = state
    var workers: [pthread_t] = []
    for index in 1..<threadCount {
      let context = Unmanaged.passRetained(
        WorkerContext(state: state, index: index, niceness: niceness, name: name)
      )
      var thread = pthread_t()
      let status = pthread_create(
        &thread,
        nil,
        { raw in
          let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
          ComputePriority.lowerCurrentThread(name: context.name)
          ComputePriority.lowerCurrentThread(toAtLeast: context.niceness)
          ThreadPool.adoptSerialOnWorker()
          context.state.workerLoop(index: context.index)
          return nil
        },
        context.toOpaque()
      )
      precondition(status == 0, "pthread_create failed: \(status)")
      workers.append(thread)
    }
    self.workers = workers
  }

  deinit {
    state.stop()
    for thread in workers { pthread_join(thread, nil) }
  }

  /// Runs `body` on `threadCount` contiguous chunks of `0 ..< count`, in parallel, and returns
  /// when all have finished. Fewer chunks are used when `count` is small: no chunk is shorter
  /// than `minimumChunk` (about 1 µs of work is worth a fork; the fork costs ~0.5 µs when the
  /// workers are awake). Empty chunks are not run.
  public func parallelFor(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let parts = min(threadCount, count / max(1, minimumChunk))
    guard parts > 1, state.tryAcquire() else {
      if count > 0 { body(0..<count) }
      return
    }
    defer { state.release() }
    withoutActuallyEscaping(body) { body in
      state.run(body, count: count, parts: parts)
    }
  }

  /// Chunk `part` of `parts` near-equal contiguous chunks of `0 ..< count`.
  public static func chunk(_ part: Int, of parts: Int, count: Int) -> Range<Int> {
    let base = count / parts
    let remainder = count % parts
    let start = part * base + min(part, remainder)
    return start..<(start + base + (part < remainder ? 1 : 0))
  }
}

private final class WorkerContext {
  let state: PoolState
  let index: Int
  let niceness: Int32
  let name: String

  init(state: PoolState, index: Int, niceness: Int32, name: String) {
    self.state = state
    self.index = index
    self.niceness = niceness
    self.name = name
  }
}

/// The shared state of a pool. The job fields are written by the caller before it publishes a
/// new generation (release) and read by workers after they observe it (acquire); the caller
/// does not touch them again until every worker has acknowledged (`pending` reaches 0).
private final class PoolState: @unchecked Sendable {
  /// How long an idle worker polls for the next job before it sleeps on the condition
  /// variable. Waking a sleeping thread costs ~20 µs on these VMs (a halted vCPU needs an
  /// interrupt), more than many decode kernels take, so workers poll across the gaps between
  /// kernels and tokens: first with plain loads, then yielding the core (OpenBLAS's threads,
  /// which poll the same way, get to run), and only then sleep.
  static let busyPollNanoseconds = 50_000
  static let yieldingPollNanoseconds = 1_000_000

  let workerCount: Int
  let generation = Atomic<Int>(0)
  let pending = Atomic<Int>(0)
  let busy = Atomic<Bool>(false)
  let stopping = Atomic<Bool>(false)
  let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  let wakeUp = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  var sleepers = 0  // guarded by `mutex`
  var job: ((Range<Int>) -> Void)?
  var jobCount = 0
  var jobParts = 0

  init(workerCount: Int) {
    self.workerCount = workerCount
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(wakeUp, nil)
  }

  deinit {
    pthread_cond_destroy(wakeUp)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    wakeUp.deallocate()
  }

  func tryAcquire() -> Bool {
    busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
  }

  func release() {
    busy.store(false, ordering: .releasing)
  }

  func run(_ body: @escaping (Range<Int>) -> Void, count: Int, parts: Int) {
    job = body
    jobCount = count
    jobParts = parts
    // Every worker acknowledges every generation, even with no chunk to run, so that none can
    // lag behind and mistake a later job for this one.
    pending.store(workerCount, ordering: .relaxed)
    generation.add(1, ordering: .releasing)
    wakeSleepers()
    body(ThreadPool.chunk(0, of: parts, count: count))
    var spins = 0
    while pending.load(ordering: .acquiring) != 0 {
      spins += 1
      // A worker may be descheduled (OpenBLAS threads share the cores): yield, don't burn.
      if spins > 4096 { sched_yield() }
    }
    job = nil
  }

  func stop() {
    stopping.store(true, ordering: .releasing)
    generation.add(1, ordering: .releasing)
    wakeSleepers()
  }

  private func wakeSleepers() {
    pthread_mutex_lock(mutex)
    if sleepers > 0 { pthread_cond_broadcast(wakeUp) }
    pthread_mutex_unlock(mutex)
  }

  func workerLoop(index: Int) {
    var seen = 0
    while true {
      seen = waitForGeneration(after: seen)
      if stopping.load(ordering: .acquiring) { return }
      if index < jobParts { runChunk(index) }
      pending.subtract(1, ordering: .releasing)
    }
  }

  /// Kept out of line so the worker's reference to the job closure is gone before it
  /// acknowledges (the closure must not outlive `withoutActuallyEscaping`).
  @inline(never)
  private func runChunk(_ index: Int) {
    job!(ThreadPool.chunk(index, of: jobParts, count: jobCount))
  }

  private func waitForGeneration(after seen: Int) -> Int {
    let start = monotonicNanoseconds()
    var polls = 0
    while true {
      let current = generation.load(ordering: .acquiring)
      if current != seen { return current }
      polls &+= 1
      // Reading the clock costs ~20 ns (vDSO): check it every 256 polls.
      guard polls & 255 == 0 else { continue }
      let elapsed = monotonicNanoseconds() - start
      if elapsed > PoolState.yieldingPollNanoseconds { break }
      if elapsed > PoolState.busyPollNanoseconds { sched_yield() }
    }
    pthread_mutex_lock(mutex)
    sleepers += 1
    // Re-checked under the mutex: the caller bumps `generation` before it takes the mutex to
    // broadcast, so a wake-up cannot fall between this check and the wait.
    while generation.load(ordering: .acquiring) == seen {
      pthread_cond_wait(wakeUp, mutex)
    }
    sleepers -= 1
    pthread_mutex_unlock(mutex)
    return generation.load(ordering: .acquiring)
  }
}

private func monotonicNanoseconds() -> Int {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return now.tv_sec * 1_000_000_000 + now.tv_nsec
}
