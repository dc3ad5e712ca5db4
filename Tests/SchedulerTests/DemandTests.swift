// The load signal a background lane reads: interactive sequences waiting and running, batch
// ones not counted, parked ones not running.
import Scheduler
import Testing

@Suite struct DemandTests {
  @Test func interactiveSequencesAreCountedApartFromBatchOnes() throws {
    let driver = Driver(config(maxRunning: 2), tokens: { _ in 2 })
    try driver.submit(request(1, count: 4, priority: .batch))
    try driver.submit(request(2, count: 4, base: 100))
    try driver.submit(request(3, count: 4, base: 200))
    var snapshot = driver.core.snapshot
    #expect(snapshot.waiting == 3 && snapshot.waitingInteractive == 2)
    #expect(snapshot.running == 0 && snapshot.runningInteractive == 0)
    // Two slots: interactive first, so both interactive run and the batch one waits.
    driver.step()
    snapshot = driver.core.snapshot
    #expect(snapshot.running == 2 && snapshot.runningInteractive == 2)
    #expect(snapshot.waiting == 1 && snapshot.waitingInteractive == 0)
    driver.drain()
    snapshot = driver.core.snapshot
    #expect(snapshot.waitingInteractive == 0 && snapshot.runningInteractive == 0)
  }

  @Test func aBatchSequenceRunningIsNotInteractiveDemand() throws {
    let driver = Driver(config(maxRunning: 4), tokens: { _ in 50 })
    try driver.submit(request(1, count: 4, priority: .batch))
    driver.step()
    var snapshot = driver.core.snapshot
    #expect(snapshot.running == 1 && snapshot.runningInteractive == 0)
    try driver.submit(request(2, count: 4, base: 100))
    #expect(driver.core.snapshot.waitingInteractive == 1)
    driver.step()
    snapshot = driver.core.snapshot
    #expect(snapshot.running == 2 && snapshot.runningInteractive == 1)
  }
}
