// Iteration-level batching: step boundaries, budgets, chunked prefill, decode rows, cancellation,
// deadlines, backpressure, priorities and prefill fairness.
import Scheduler
import Testing

@Suite struct BatchingTests {
  @Test func sequencesJoinAndLeaveAtStepBoundaries() throws {
    let driver = Driver(config(), tokens: { _ in 2 })
    try driver.submit(request(1, count: 6))
    let first = try #require(driver.step())
    #expect(first.entries.map(\.sequence) == [SequenceID(1)])
    #expect(first.entries[0].positions == 0..<6 && first.entries[0].producesOutput)
    try driver.submit(request(2, count: 5, base: 100))
    let second = try #require(driver.step())
    #expect(second.entries.map(\.sequence) == [SequenceID(1), SequenceID(2)])
    #expect(second.entries[0].positions == 6..<7)
    driver.step()  // 1 finishes (its third output)
    #expect(driver.executor.endReasons(SequenceID(1)) == [.finished])
    let fourth = try #require(driver.step())
    #expect(!fourth.entries.contains { $0.sequence == SequenceID(1) })
    driver.drain()
    #expect(driver.executor.endReasons(SequenceID(1)) == [.finished])
    #expect(driver.executor.endReasons(SequenceID(2)) == [.finished])
  }

  @Test func chunkedPrefillProducesOutputOnlyOnTheLastChunk() throws {
    let driver = Driver(config(budget: 16), tokens: { _ in 1 })
    try driver.submit(request(1, count: 40))
    driver.drain()
    let entries = driver.entries(of: 1)
    #expect(entries.map(\.positions) == [0..<16, 16..<32, 32..<40, 40..<41])
    #expect(entries.map(\.producesOutput) == [false, false, true, true])
    #expect(entries[2].blockTable.count == 10)
  }

  @Test func decodeRowsComeFirstAndPrefillFillsTheBudget() throws {
    let driver = Driver(config(budget: 16), tokens: { _ in 10 })
    try driver.submit(request(1, count: 4))
    driver.step()
    try driver.submit(request(2, count: 40, base: 100))
    let plan = try #require(driver.step())
    #expect(plan.entries.map(\.sequence) == [SequenceID(1), SequenceID(2)])
    #expect(plan.entries[0].positions == 4..<5)
    #expect(plan.entries[1].positions == 0..<15)
  }

  @Test func cancellationOfWaitingAndRunningSequences() throws {
    let driver = Driver(config(maxRunning: 1), tokens: { _ in 100 })
    try driver.submit(request(1, count: 4))
    try driver.submit(request(2, count: 4, base: 100))
    driver.step()
    driver.core.cancel(SequenceID(2))  // waiting
    driver.core.cancel(SequenceID(99))  // unknown: ignored
    driver.step()
    #expect(driver.executor.endReasons(SequenceID(2)) == [.cancelled])
    driver.core.cancel(SequenceID(1))  // running
    #expect(driver.executor.endReasons(SequenceID(1)).isEmpty)
    #expect(driver.step() == nil)
    #expect(driver.executor.endReasons(SequenceID(1)) == [.cancelled])
    driver.core.cancel(SequenceID(1))
    driver.step()
    #expect(driver.executor.endReasons(SequenceID(1)) == [.cancelled])
    #expect(driver.entries(of: 2).isEmpty)
    #expect(driver.core.snapshot.blocksUsed == 0)
  }

  @Test func expiredSequencesAreNeverComputed() throws {
    let driver = Driver(config(maxRunning: 1), tokens: { _ in 100 })
    try driver.submit(request(1, count: 4, deadline: driver.start + .seconds(3)))
    try driver.submit(request(2, count: 4, base: 100, deadline: driver.start + .seconds(2)))
    driver.step()
    driver.step()  // at 2 s: sequence 2 expires while waiting
    #expect(driver.executor.endReasons(SequenceID(2)) == [.expired])
    driver.step()  // at 3 s: sequence 1 expires while running
    #expect(driver.executor.endReasons(SequenceID(1)) == [.expired])
    #expect(driver.entries(of: 2).isEmpty)
    #expect(driver.entries(of: 1).count == 2)
    #expect(!driver.core.hasSequences)
  }

  @Test func backpressureKeepsBlocksButSkipsTheDecodeRow() throws {
    let driver = Driver(config(), tokens: { _ in 100 })
    try driver.submit(request(1, count: 6))
    driver.step()
    let used = driver.core.snapshot.blocksUsed
    driver.executor.setBlocked(SequenceID(1), true)
    #expect(driver.step() == nil)
    #expect(driver.step() == nil)
    #expect(driver.core.snapshot.blocksUsed == used)
    #expect(driver.core.snapshot.running == 1)
    driver.executor.setBlocked(SequenceID(1), false)
    let plan = try #require(driver.step())
    #expect(plan.entries.map(\.positions) == [6..<7])
  }

  @Test func interactiveGoesBeforeBatch() throws {
    let driver = Driver(config(maxRunning: 1), tokens: { _ in 1 })
    try driver.submit(request(1, count: 4))
    try driver.submit(request(2, count: 4, base: 100, priority: .batch))
    try driver.submit(request(3, count: 4, base: 200))
    driver.drain()
    let order = driver.executor.plans.flatMap { $0.entries.map(\.sequence) }
    let firstOf = { (id: UInt64) in order.firstIndex(of: SequenceID(id)) ?? .max }
    #expect(firstOf(1) < firstOf(3) && firstOf(3) < firstOf(2))
  }

  @Test func interactivePrefillIsPlannedBeforeBatchPrefill() throws {
    let driver = Driver(config(budget: 16), tokens: { _ in 1 })
    try driver.submit(request(1, count: 40, priority: .batch))
    try driver.submit(request(2, count: 40, base: 100))
    let plan = try #require(driver.step())
    #expect(plan.entries.map(\.sequence) == [SequenceID(2), SequenceID(1)])
  }

  @Test(arguments: [false, true])
  func aShortPromptIsNotStarvedByALongOne(arrivesAfterFirstStep: Bool) throws {
    let driver = Driver(
      config(blockSize: 16, blockCount: 512, budget: 512),
      tokens: { _ in 1 }
    )
    try driver.submit(request(1, count: 4000))
    if arrivesAfterFirstStep { driver.step() }
    let arrival = driver.executor.plans.count
    try driver.submit(request(2, count: 10, base: 10_000))
    driver.step()
    driver.step()
    let outputs = driver.executor.plans[arrival...].flatMap { plan in
      plan.entries.filter { $0.sequence == SequenceID(2) && $0.producesOutput }
    }
    #expect(!outputs.isEmpty)
    // The long prompt progressed in every step, and the budget was used in full.
    for plan in driver.executor.plans {
      #expect(plan.entries.contains { $0.sequence == SequenceID(1) })
      #expect(plan.entries.reduce(0) { $0 + $1.positions.count } == 512)
    }
  }
}
