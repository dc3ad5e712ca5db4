// The preprocessing pool: jobs run off the caller's thread, a full queue refuses at once, a
// cancelled caller's job is skipped, and the threads end when the pool goes.
import Foundation
import Synchronization
import Testing

@testable import Scheduler

@Suite struct WorkerPoolTests {
  /// A gate the test opens to let blocked jobs finish.
  final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func wait() { semaphore.wait() }
    func open(_ count: Int) { for _ in 0..<count { semaphore.signal() } }
  }

  @Test func runsWorkOnItsNicedThreadsAndReturnsTheResult() async throws {
    let pool = WorkerPool(threads: 2, maxQueued: 8, niceness: 7)
    let niceness = try await withThrowingTaskGroup(of: Int32.self) { group in
      for _ in 0..<8 {
        group.addTask {
          try await pool.run { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(niceness == Array(repeating: 7, count: 8))
    #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == 0)
    #expect(try await pool.run { 6 * 7 } == 42)
    await #expect(throws: CancellationError.self) {
      try await pool.run { throw CancellationError() }
    }
  }

  @Test func aFullQueueRefusesAtOnce() throws {
    let pool = WorkerPool(threads: 1, maxQueued: 2)
    let gate = Gate()
    let started = DispatchSemaphore(value: 0)
    try pool.submit {
      started.signal()
      gate.wait()
    }
    started.wait()  // the thread is busy: the next two queue, the third is refused
    try pool.submit { gate.wait() }
    #expect(pool.refusal == nil)
    try pool.submit { gate.wait() }
    #expect(pool.queued == 2)
    #expect(pool.refusal == .full(maxQueued: 2))  // what a submit now would throw
    #expect(throws: WorkerPoolError.full(maxQueued: 2)) { try pool.submit {} }
    gate.open(3)
    pool.shutdown()
    #expect(throws: WorkerPoolError.stopped) { try pool.submit {} }
  }

  @Test func aCallerCancelledBeforeItsJobStartsSkipsIt() async throws {
    let pool = WorkerPool(threads: 1, maxQueued: 4)
    let gate = Gate()
    let started = DispatchSemaphore(value: 0)
    try pool.submit {
      started.signal()
      gate.wait()
    }
    started.wait()
    let ran = Atomic<Bool>(false)
    let task = Task { try await pool.run { ran.store(true, ordering: .relaxed) } }
    while pool.queued == 0 { try await Task.sleep(for: .milliseconds(1)) }
    task.cancel()
    gate.open(1)
    await #expect(throws: CancellationError.self) { try await task.value }
    let didRun = ran.load(ordering: .relaxed)
    #expect(!didRun)
  }

  @Test func threadsEndWhenThePoolGoes() async throws {
    let done = Atomic<Int>(0)
    do {
      let pool = WorkerPool(threads: 2, maxQueued: 8)
      for _ in 0..<4 { try pool.submit { done.add(1, ordering: .relaxed) } }
    }
    // The queued jobs still run; then the threads find the queue stopped and return.
    for _ in 0..<1000 where done.load(ordering: .relaxed) < 4 {
      try await Task.sleep(for: .milliseconds(2))
    }
    let count = done.load(ordering: .relaxed)
    #expect(count == 4)
  }
}
