// CPU work on the request path (tokenizing prompts, decoding and resizing images) runs here,
// never on the Swift concurrency pool: that pool has one thread per core, and a few large
// prompts or images would otherwise keep every thread busy, so that even a health check waits.
// A fixed number of worker threads (at a lower scheduling priority than the threads serving
// calls) take jobs from a bounded queue; a job submitted to a full queue is refused at once, as
// the scheduler refuses requests when its waiting queue is full.
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Why a job was not run.
public enum WorkerPoolError: Error, Sendable, Equatable, CustomStringConvertible {
  /// `maxQueued` jobs were already waiting.
  case full(maxQueued: Int)
  /// The pool was shut down.
  case stopped

  public var description: String {
    switch self {
    case .full(let maxQueued):
      "the preprocessing queue is full: \(maxQueued) requests are waiting to be tokenized or to have their images decoded"
    case .stopped: "the server is shutting down"
    }
  }
}

/// A bounded queue served by a fixed number of threads. See the file comment. The threads hold
/// only the queue, so a pool that is no longer referenced stops them (after the queued jobs).
public final class WorkerPool: Sendable {
  private let jobs: JobQueue
  /// Jobs that may wait beyond the running ones.
  public var maxQueued: Int { jobs.maxQueued }

  /// Starts `threads` worker threads, `niceness` nicer than the caller's, each of which runs
  /// `threadStart` first. (Foundation on Linux does not pass `Thread.name` to the kernel, so
  /// the threads carry their creator's name.)
  public init(
    threads: Int,
    maxQueued: Int,
    niceness: Int32 = 5,
    threadStart: @escaping @Sendable () -> Void = {}
  ) {
    precondition(threads >= 1 && maxQueued >= 0)
    let jobs = JobQueue(maxQueued: maxQueued)
    self.jobs = jobs
    for _ in 0..<threads {
      let thread = Thread {
        // Linux keeps a nice value per thread: who = 0 lowers only this worker's priority.
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        if niceness != 0 { _ = setpriority(which, 0, getpriority(which, 0) + niceness) }
        threadStart()
        jobs.serve()
      }
      thread.start()
    }
  }

  deinit { jobs.stop() }

  /// Jobs waiting for a thread.
  public var queued: Int { jobs.count }

  /// The refusal `submit` would throw now (`.full` while `maxQueued` jobs wait), or nil. A
  /// snapshot: a job may leave or arrive right after.
  public var refusal: WorkerPoolError? {
    jobs.count >= jobs.maxQueued ? .full(maxQueued: jobs.maxQueued) : nil
  }

  /// Queues `job`; throws `.full` at once when `maxQueued` jobs already wait.
  public func submit(_ job: @escaping @Sendable () -> Void) throws(WorkerPoolError) {
    try jobs.append(job)
  }

  /// Runs `work` on a worker thread and returns its result. A caller cancelled before the work
  /// starts gets `CancellationError` and the work is skipped.
  public func run<T: Sendable>(
    _ work: @escaping @Sendable () throws -> T
  ) async throws -> T {
    let cancelled = Atomic<Bool>(false)
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (done: CheckedContinuation<T, any Error>) in
        do {
          try jobs.append {
            if cancelled.load(ordering: .relaxed) {
              done.resume(throwing: CancellationError())
            } else {
              done.resume(with: Result { try work() })
            }
          }
        } catch {
          done.resume(throwing: error)
        }
      }
    } onCancel: {
      cancelled.store(true, ordering: .relaxed)
    }
  }

  /// Refuses new jobs and lets the threads end once the queued ones have run.
  public func shutdown() { jobs.stop() }
}

/// The jobs of a pool, guarded by one condition.
private final class JobQueue: @unchecked Sendable {
  private let condition = NSCondition()
  private var jobs: [@Sendable () -> Void] = []
  private var stopped = false
  let maxQueued: Int

  init(maxQueued: Int) { self.maxQueued = maxQueued }

  var count: Int {
    condition.lock()
    defer { condition.unlock() }
    return jobs.count
  }

  func append(_ job: @escaping @Sendable () -> Void) throws(WorkerPoolError) {
    condition.lock()
    defer { condition.unlock() }
    if stopped { throw .stopped }
    if jobs.count >= maxQueued { throw .full(maxQueued: maxQueued) }
    jobs.append(job)
    condition.signal()
  }

  func stop() {
    condition.lock()
    stopped = true
    condition.broadcast()
    condition.unlock()
  }

  /// A worker thread's loop: runs jobs until the queue is stopped and empty.
  func serve() {
    while true {
      condition.lock()
      while jobs.isEmpty && !stopped { condition.wait() }
      if jobs.isEmpty {
        condition.unlock()
        return
      }
      let job = jobs.removeFirst()
      condition.unlock()
      job()
    }
  }
}
