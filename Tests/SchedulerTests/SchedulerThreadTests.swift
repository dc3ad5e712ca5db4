// The threaded facade end to end with the fake executor; every wait is bounded.
import Foundation
import Scheduler
import Testing

@Suite struct SchedulerThreadTests {
  /// Polls until `condition` holds or `seconds` pass; returns whether it held.
  private func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let limit = Date(timeIntervalSinceNow: seconds)
    while !condition() {
      if Date() > limit { return false }
      usleep(1_000)
    }
    return true
  }

  @Test func submissionsFromSeveralThreadsAllEnd() throws {
    var configuration = config(blockCount: 128, budget: 32)
    configuration.maxWaitingRequests = 1_000
    let executor = FakeExecutor(blockSize: 4, tokens: { Int($0.rawValue % 7) + 1 })
    let scheduler = Scheduler(configuration: configuration, executor: executor)
    scheduler.start()
    DispatchQueue.concurrentPerform(iterations: 4) { thread in
      for index in 0..<10 {
        let id = UInt64(thread * 100 + index * 2)
        // A group of two samples of one prompt.
        let prompt = (0..<UInt64(5 + index)).map { $0 + UInt64(thread) * 1_000 }
        let group = [id, id + 1].map {
          SequenceRequest(id: SequenceID($0), promptKeys: prompt, maxNewTokens: 8)
        }
        #expect(throws: Never.self) { try scheduler.submit(group) }
      }
    }
    #expect(eventually { executor.ended.count == 80 })
    scheduler.shutdown()
    let ended = executor.ended
    #expect(ended.count == 80)
    #expect(Set(ended.map(\.0)).count == 80)
    #expect(ended.allSatisfy { $0.1 == .finished })
    let snapshot = scheduler.snapshot
    #expect(snapshot.running == 0 && snapshot.waiting == 0 && snapshot.blocksUsed == 0)
  }

  @Test func shutdownEndsEverythingAndJoins() throws {
    let executor = FakeExecutor(blockSize: 4, tokens: { _ in .max })
    // Held back by its consumer after the first output: it stays running without spinning.
    executor.setBlocked(SequenceID(1), true)
    let scheduler = Scheduler(configuration: config(maxRunning: 1), executor: executor)
    scheduler.start()
    try scheduler.submit([request(1, count: 4)])
    try scheduler.submit([request(2, count: 4, base: 100)])
    #expect(eventually { executor.plans.count == 1 })
    #expect(scheduler.snapshot.running == 1 && scheduler.snapshot.waiting == 1)
    scheduler.shutdown()
    #expect(Set(executor.ended.map(\.0)) == [SequenceID(1), SequenceID(2)])
    #expect(executor.ended.allSatisfy { $0.1 == .shutdown })
    #expect(executor.plans.count == 1)
    #expect(throws: AdmissionError.self) { try scheduler.submit([request(3, count: 4)]) }
    scheduler.shutdown()  // idempotent
  }

  @Test func cancelAndBackpressureWakeTheLoop() throws {
    let executor = FakeExecutor(blockSize: 4, tokens: { _ in .max })
    executor.setBlocked(SequenceID(1), true)
    let scheduler = Scheduler(configuration: config(blockCount: 4_096), executor: executor)
    scheduler.start()
    defer { scheduler.shutdown() }
    try scheduler.submit([request(1, count: 4)])
    #expect(eventually { executor.plans.count == 1 })
    usleep(20_000)
    #expect(executor.plans.count == 1)  // no rows while the consumer is behind
    executor.setBlocked(SequenceID(1), false)
    scheduler.wake()
    #expect(eventually { executor.plans.count > 10 })
    executor.setBlocked(SequenceID(1), true)
    scheduler.cancel(SequenceID(1))
    #expect(eventually { executor.endReasons(SequenceID(1)) == [.cancelled] })
    #expect(scheduler.snapshot.blocksUsed == 0)
  }

  @Test func aSchedulerThatNeverStartedEndsItsSequencesOnShutdown() throws {
    let executor = FakeExecutor(blockSize: 4)
    let scheduler = Scheduler(configuration: config(), executor: executor)
    try scheduler.submit([request(1, count: 4)])
    scheduler.shutdown()
    #expect(executor.endReasons(SequenceID(1)) == [.shutdown])
    #expect(executor.plans.isEmpty)
  }
}
