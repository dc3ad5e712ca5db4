// The thread-safe facade: a SchedulerCore behind a Mutex, driven by one dedicated thread that
// sleeps on a condition while there is nothing to compute.
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Continuous batching on a dedicated thread. `submit`, `cancel`, `wake` and `snapshot` may be
/// called from any thread; the executor is only used on the scheduler thread, and `execute` runs
/// without the lock held.
public final class Scheduler: Sendable {
  private struct State: ~Copyable {
    var core: SchedulerCore
    var stopping = false
  }

  // The executor is touched only on the scheduler thread (see `StepExecutor`).
  private final class ExecutorBox: @unchecked Sendable {
    let executor: any StepExecutor
    init(_ executor: any StepExecutor) { self.executor = executor }
  }

  private let state: Mutex<State>
  private let box: ExecutorBox
  private let wakeup = Wakeup()
  private enum Lifecycle {
    case idle
    case running(pthread_t)
    case stopped
  }

  private let lifecycle = Mutex(Lifecycle.idle)
  /// While sequences are running but none could advance (backpressure), the loop polls
  /// `canAdvance` this often unless `wake()` comes first.
  private let idlePoll: Duration
  /// Runs first on the scheduler thread (e.g. to set its name or priority).
  private let threadStart: @Sendable () -> Void

  /// - Parameters:
  ///   - idlePoll: how often to re-ask `canAdvance` while every running sequence is held back
  ///     by its consumer.
  ///   - threadStart: runs first on the scheduler thread, before any step (e.g. to lower the
  ///     thread's priority below the threads that serve calls).
  public init(
    configuration: SchedulerConfiguration,
    executor: some StepExecutor,
    idlePoll: Duration = .milliseconds(5),
    threadStart: @escaping @Sendable () -> Void = {}
  ) {
    state = Mutex(State(core: SchedulerCore(configuration: configuration)))
    box = ExecutorBox(executor)
    self.idlePoll = idlePoll
    self.threadStart = threadStart
  }

  deinit {
    shutdown()
  }

  /// Spawns the scheduler thread (once; not after `shutdown`).
  public func start() {
    lifecycle.withLock { lifecycle in
      guard case .idle = lifecycle else { return }
      let context = Unmanaged.passRetained(self).toOpaque()
      var handle = pthread_t()
      let result = pthread_create(
        &handle,
        nil,
        { context in
          guard let context else { return nil }
          let scheduler = Unmanaged<Scheduler>.fromOpaque(context).takeRetainedValue()
          scheduler.threadStart()
          scheduler.run()
          return nil
        },
        context
      )
      precondition(result == 0, "pthread_create failed: \(result)")
      lifecycle = .running(handle)
    }
  }

  /// Adds one request (a group of sequences), all or nothing; rejections are immediate.
  public func submit(_ group: [SequenceRequest]) throws(AdmissionError) {
    let now = ContinuousClock.now
    try state.withLock { (state: inout State) throws(AdmissionError) in
      guard !state.stopping else {
        throw AdmissionError(.shuttingDown, "the scheduler is shutting down")
      }
      try state.core.submit(group, now: now)
    }
    wakeup.signal()
  }

  /// The sequence leaves at the next step boundary with `.cancelled`; unknown ids are ignored.
  public func cancel(_ id: SequenceID) {
    state.withLock { $0.core.cancel(id) }
    wakeup.signal()
  }

  /// Asks for a step now, e.g. when a consumer that was behind has caught up.
  public func wake() {
    wakeup.signal()
  }

  /// Counts for tests and metrics.
  public var snapshot: SchedulerSnapshot {
    state.withLock { $0.core.snapshot }
  }

  /// Ends every sequence with `.shutdown` and joins the thread (the first call does; later calls
  /// return at once). Later submits are refused. If the thread never started, the sequences are
  /// reported ended on the caller's thread.
  public func shutdown() {
    state.withLock { $0.stopping = true }
    wakeup.signal()
    let previous = lifecycle.withLock { lifecycle in
      defer { lifecycle = .stopped }
      return lifecycle
    }
    switch previous {
    case .idle:
      finish()
    case .running(let handle):
      // From the scheduler thread itself (an executor callback) the loop ends on its own.
      if pthread_equal(handle, pthread_self()) == 0 { pthread_join(handle, nil) }
    case .stopped:
      break
    }
  }

  private func run() {
    let box = self.box
    while true {
      let now = ContinuousClock.now
      let (plan, ended, stop, busy) = state.withLock { state in
        guard !state.stopping else {
          return (StepPlan?.none, [(SequenceID, EndReason)](), true, false)
        }
        let plan = state.core.prepare(now: now, canAdvance: { box.executor.canAdvance($0) })
        return (plan, state.core.takeEnded(), false, state.core.hasSequences)
      }
      report(ended)
      if stop { break }
      if let plan {
        let outcomes = box.executor.execute(plan)
        let done = ContinuousClock.now
        report(
          state.withLock { state in
            state.core.complete(plan, outcomes: outcomes, now: done)
            return state.core.takeEnded()
          }
        )
      } else {
        wakeup.wait(timeout: busy ? idlePoll : nil)
      }
    }
    finish()
  }

  private func finish() {
    report(
      state.withLock { state in
        state.core.shutdown()
        return state.core.takeEnded()
      }
    )
  }

  private func report(_ ended: [(SequenceID, EndReason)]) {
    for (id, reason) in ended { box.executor.sequenceEnded(id, reason: reason) }
  }
}

/// A sticky wake-up flag with a condition: a signal before the wait is not lost.
private final class Wakeup: Sendable {
  private let condition = NSCondition()
  private let flag = Mutex(false)

  func signal() {
    condition.lock()
    flag.withLock { $0 = true }
    condition.signal()
    condition.unlock()
  }

  func wait(timeout: Duration?) {
    condition.lock()
    defer { condition.unlock() }
    if let timeout {
      let (seconds, attoseconds) = timeout.components
      let limit = Date(
        timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18
      )
      while !flag.withLock({ $0 }) {
        if !condition.wait(until: limit) { break }
      }
    } else {
      while !flag.withLock({ $0 }) { condition.wait() }
    }
    flag.withLock { $0 = false }
  }
}
