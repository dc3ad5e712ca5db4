// Paged KV accounting: preemption by recompute, pool bounds, out-of-memory, context limit, and a
// randomized run checking the invariants of every step.
import Scheduler
import Testing

@Suite struct MemoryTests {
  @Test func preemptionRecomputesWithoutEndingTheSequence() throws {
    let driver = Driver(config(blockCount: 8), tokens: { _ in 20 })
    try driver.submit(request(1, count: 8), request(2, count: 8, base: 100))
    driver.drain()
    #expect(driver.core.snapshot.preemptions >= 1)
    #expect(driver.executor.endReasons(SequenceID(1)) == [.finished])
    #expect(driver.executor.endReasons(SequenceID(2)) == [.finished])
    // The most recently admitted sequence was the victim; it restarted below what it had computed
    // (at a block boundary: position 0 or the end of a cached prefix).
    let entries = driver.entries(of: 2)
    let restarts = zip(entries, entries.dropFirst()).filter {
      $1.positions.lowerBound < $0.positions.upperBound
    }
    #expect(!restarts.isEmpty)
    for (_, restart) in restarts { #expect(restart.positions.lowerBound % 4 == 0) }
    // The recompute covered the sampled keys too: it went on to the full 8 + 20 positions.
    #expect(entries.last?.positions.upperBound == 28)
    let first = driver.entries(of: 1)
    #expect(
      zip(first, first.dropFirst()).allSatisfy {
        $1.positions.lowerBound == $0.positions.upperBound
      }
    )
    let snapshot = driver.core.snapshot
    #expect(snapshot.blocksUsed == 0 && snapshot.blocksFree + snapshot.blocksCached == 8)
  }

  @Test func theLowerPriorityVictimIsPreemptedEvenIfOlder() throws {
    let driver = Driver(config(blockCount: 6), tokens: { _ in 100 })
    try driver.submit(request(1, count: 8, priority: .batch))
    try driver.submit(request(2, count: 8, base: 100))
    var plan: StepPlan?
    while driver.core.snapshot.preemptions == 0 {
      plan = driver.step()
      #expect(driver.executor.plans.count < 100)
    }
    #expect(plan?.entries.map(\.sequence) == [SequenceID(2)])
    #expect(driver.core.snapshot.running == 1 && driver.core.snapshot.waiting == 1)
    #expect(driver.executor.ended.isEmpty)
  }

  @Test func aSequenceThatCannotGrowEvenAloneEndsOutOfMemory() throws {
    let driver = Driver(config(blockCount: 2), tokens: { _ in 100 })
    try driver.submit(request(1, count: 7))
    driver.drain()
    #expect(driver.executor.endReasons(SequenceID(1)) == [.outOfMemory])
    #expect(driver.entries(of: 1).last?.positions == 7..<8)
  }

  @Test func anAppendPastTheContextEndsWithLengthLimit() throws {
    let driver = Driver(config(maxSequenceLength: 6), tokens: { _ in 100 })
    try driver.submit(request(1, count: 4))
    driver.drain()
    #expect(driver.executor.endReasons(SequenceID(1)) == [.lengthLimit])
    #expect(driver.entries(of: 1).map(\.positions.upperBound) == [4, 5, 6])
  }

  @Test func randomizedRunKeepsTheInvariants() throws {
    // A small pool, shared prefixes, varied lengths: exercises admission, sharing, preemption.
    var configuration = config(blockCount: 40, budget: 16, maxRunning: 6)
    configuration.maxWaitingRequests = 3
    let driver = Driver(configuration, tokens: { Int($0.rawValue % 13) })
    var random: UInt64 = 42
    func next(_ bound: Int) -> Int {
      random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((random >> 33) % UInt64(bound))
    }
    var submitted: [SequenceID] = []
    for id in 0..<60 as Range<UInt64> {
      let prefix = next(3) == 0 ? 0 : UInt64(1_000 * (id + 1))
      var group = [request(id, count: 1 + next(60), base: prefix)]
      group[0].priority = next(4) == 0 ? .batch : .interactive
      do {
        try driver.core.submit(group, now: driver.now)
        submitted.append(group[0].id)
      } catch {
        #expect(error.code == .queueFull)
      }
      if next(2) == 0 { driver.checkInvariants(driver.step()) }
    }
    driver.drain()
    let ended = driver.executor.ended
    #expect(ended.count == submitted.count)
    #expect(Set(ended.map(\.0)) == Set(submitted))
    #expect(ended.allSatisfy { $0.1 == .finished })
    let snapshot = driver.core.snapshot
    #expect(snapshot.blocksUsed == 0 && snapshot.blocksFree + snapshot.blocksCached == 40)
    #expect(snapshot.running == 0 && snapshot.waiting == 0)
    // The run did exercise what it is meant to.
    #expect(snapshot.preemptions > 0 && snapshot.reusedPositions > 0 && snapshot.rejections > 0)
  }
}
