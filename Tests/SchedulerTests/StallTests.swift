// Consumers that stop reading: a paused sequence is parked while others wait (its slot and
// blocks freed, recomputed when it resumes) and ends `.stalled` past the stall timeout.
import Testing

@testable import Scheduler

@Suite struct StallTests {
  @Test func aPausedSequenceGivesUpItsSlotWhileOthersWait() throws {
    var configuration = config(maxRunning: 1)
    configuration.stallTimeout = nil
    let driver = Driver(configuration, tokens: { _ in 3 })
    try driver.submit(request(1, count: 6))
    driver.step()  // prefill, first token
    driver.executor.setBlocked(SequenceID(1), true)
    try driver.submit(request(2, count: 5, base: 100))
    #expect(driver.step() == nil)  // 1 is paused (since now); 2 waits for the only slot
    #expect(driver.core.snapshot.running == 1)
    // A second later 1 is parked and 2 runs.
    let plan = try #require(driver.step())
    #expect(plan.entries.map(\.sequence) == [SequenceID(2)])
    #expect(driver.core.snapshot.parked == 1)
    #expect(driver.core.snapshot.parks == 1)
    #expect(driver.executor.endReasons(SequenceID(1)).isEmpty)
    // 1 catches up: it waits for the slot, then recomputes its 6 + 1 positions (past the prefix
    // blocks still cached) and continues.
    driver.executor.setBlocked(SequenceID(1), false)
    driver.drain()
    #expect(driver.executor.endReasons(SequenceID(1)) == [.finished])
    #expect(driver.executor.endReasons(SequenceID(2)) == [.finished])
    let entries = driver.executor.plans.flatMap(\.entries).filter { $0.sequence == SequenceID(1) }
    #expect(entries.first?.positions == 0..<6)
    #expect(
      entries.dropFirst().first.map { $0.positions.lowerBound < 6 && $0.positions.upperBound == 7 }
        == true
    )
  }

  @Test func aPausedSequenceKeepsItsBlocksWhenNobodyWaits() throws {
    let driver = Driver(config(), tokens: { _ in 100 })
    try driver.submit(request(1, count: 6))
    driver.step()
    driver.executor.setBlocked(SequenceID(1), true)
    for _ in 0..<10 { #expect(driver.step() == nil) }
    #expect(driver.core.snapshot.running == 1)
    #expect(driver.core.snapshot.parked == 0)
  }

  @Test(arguments: [true, false])
  func aSequencePausedPastTheStallTimeoutEnds(othersWait: Bool) throws {
    var configuration = config(maxRunning: 1)
    configuration.stallTimeout = .seconds(5)
    let driver = Driver(configuration, tokens: { _ in 100 })
    try driver.submit(request(1, count: 6))
    driver.step()
    driver.executor.setBlocked(SequenceID(1), true)
    if othersWait { try driver.submit(request(2, count: 5, base: 100)) }
    for _ in 0..<5 { driver.step() }
    #expect(driver.executor.endReasons(SequenceID(1)).isEmpty)
    driver.step()  // paused for 5 s now
    #expect(driver.executor.endReasons(SequenceID(1)) == [.stalled])
    #expect(driver.core.snapshot.parked == 0)
    if !othersWait {
      #expect(driver.core.snapshot.running == 0)
      #expect(driver.core.snapshot.blocksUsed == 0)
    }
  }

  @Test func withoutAStallTimeoutAPausedSequenceNeverEnds() throws {
    var configuration = config()
    configuration.stallTimeout = nil
    let driver = Driver(configuration, tokens: { _ in 100 })
    try driver.submit(request(1, count: 6))
    driver.step()
    driver.executor.setBlocked(SequenceID(1), true)
    for _ in 0..<100 { driver.step() }
    #expect(driver.executor.endReasons(SequenceID(1)).isEmpty)
  }

  @Test func aCancelledParkedSequenceLeaves() throws {
    var configuration = config(maxRunning: 1)
    configuration.stallTimeout = nil
    let driver = Driver(configuration, tokens: { _ in 100 })
    try driver.submit(request(1, count: 6))
    driver.step()
    driver.executor.setBlocked(SequenceID(1), true)
    try driver.submit(request(2, count: 5, base: 100))
    driver.step()
    driver.step()
    #expect(driver.core.snapshot.parked == 1)
    driver.core.cancel(SequenceID(1))
    driver.step()
    #expect(driver.executor.endReasons(SequenceID(1)) == [.cancelled])
    #expect(driver.core.snapshot.parked == 0)
  }
}
