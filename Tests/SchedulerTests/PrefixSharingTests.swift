// Prefix sharing: cached full blocks, in-flight sharing within a group, and never writing into a
// shared block.
import Scheduler
import Testing

@Suite struct PrefixSharingTests {
  @Test func sixteenCandidatesComputeTheirCommonPrefixOnce() throws {
    let driver = Driver(config(blockSize: 16, blockCount: 512, budget: 512), tokens: { _ in 1 })
    let prefix = (0..<200).map { UInt64($0) }
    let group = (0..<16).map { index in
      SequenceRequest(
        id: SequenceID(UInt64(index)),
        promptKeys: prefix + (0..<20).map { UInt64(10_000 * (index + 1) + $0) },
        maxNewTokens: 1
      )
    }
    try driver.core.submit(group, now: driver.now)
    driver.drain()
    let snapshot = driver.core.snapshot
    // 220 once, then 220 - 192 (12 shared blocks of 16) for each other candidate.
    #expect(snapshot.prefillPositions == 220 + 15 * 28)
    #expect(snapshot.prefillPositions <= 200 + 16 * (20 + 16))
    #expect(snapshot.reusedPositions == 15 * 192)
    for index in 1..<16 {
      #expect(driver.entries(of: UInt64(index)).first?.positions.lowerBound == 192)
    }
    #expect(driver.executor.doubleWrites == 0)
    #expect(driver.executor.ended.allSatisfy { $0.1 == .finished })
    #expect(driver.executor.ended.count == 16)
  }

  @Test func withoutPrefixSharingEverySequenceComputesItAll() throws {
    var configuration = config(blockSize: 16, blockCount: 512, budget: 512)
    configuration.prefixSharing = false
    let driver = Driver(configuration, tokens: { _ in 1 })
    let prefix = (0..<200).map { UInt64($0) }
    let group = (0..<4).map { index in
      SequenceRequest(
        id: SequenceID(UInt64(index)),
        promptKeys: prefix + (0..<20).map { UInt64(10_000 * (index + 1) + $0) },
        maxNewTokens: 1
      )
    }
    try driver.core.submit(group, now: driver.now)
    driver.drain()
    #expect(driver.core.snapshot.prefillPositions == 4 * 220)
    #expect(driver.core.snapshot.reusedPositions == 0)
    #expect(driver.executor.ended.count == 4)
  }

  @Test func samplesOfOnePromptWaitForTheBlocksInFlight() throws {
    let driver = Driver(config(budget: 16), tokens: { _ in 1 })
    try driver.submit(
      request(1, count: 100),
      request(2, count: 100),
      request(3, count: 100),
      request(4, count: 100)
    )
    driver.step()
    // The samples are held while the first computes the shared blocks.
    #expect(driver.core.snapshot.running == 1 && driver.core.snapshot.waiting == 3)
    driver.drain()
    // 100 positions once; the others reuse 24 blocks and compute the last block's 4 positions.
    #expect(driver.core.snapshot.prefillPositions == 100 + 3 * 4)
    #expect(driver.executor.doubleWrites == 0)
    #expect(driver.entries(of: 4).first?.positions == 96..<100)
  }

  @Test func heldSequencesDoNotBlockOthersBehindThem() throws {
    let driver = Driver(config(budget: 16), tokens: { _ in 1 })
    try driver.submit(request(1, count: 100), request(2, count: 100))
    try driver.submit(request(3, count: 8, base: 5_000))
    driver.step()
    let plan = try #require(driver.executor.plans.last)
    #expect(plan.entries.map(\.sequence) == [SequenceID(1), SequenceID(3)])
  }

  @Test func finishedSequencesLeaveTheirBlocksCachedForLaterRequests() throws {
    let driver = Driver(config(), tokens: { _ in 1 })
    try driver.submit(request(1, count: 20))
    driver.drain()
    #expect(driver.core.snapshot.blocksCached == 5)
    var changed = request(3, count: 20)
    changed.promptKeys[10] = 77
    try driver.submit(request(2, count: 20), changed)
    driver.drain()
    // The last position is always computed: at most floor(19 / 4) = 4 blocks are reused.
    #expect(driver.entries(of: 2).first?.positions == 16..<20)
    // A different key in block 2 reuses blocks 0 and 1 only.
    #expect(driver.entries(of: 3).first?.positions == 8..<20)
    #expect(driver.core.snapshot.reusedPositions == 16 + 8)
  }

  @Test func sharedBlocksAreNeverWritten() throws {
    let driver = Driver(config(blockCount: 256, budget: 8), tokens: { _ in 6 })
    for id in 0..<6 as Range<UInt64> {
      try driver.submit(request(id, count: 13 + Int(id) * 5))
      driver.step()
    }
    driver.drain()
    // Every (block, offset) slot was written once: no recompute, no write into a shared block.
    #expect(driver.executor.doubleWrites == 0)
    #expect(driver.core.snapshot.reusedPositions > 0)
  }

  @Test func cachedBlocksAreEvictedWhenThePoolRunsShort() throws {
    let driver = Driver(config(blockCount: 10), tokens: { _ in 1 })
    for id in 0..<5 as Range<UInt64> {
      try driver.submit(request(id, count: 16, base: 1_000 * id))
      driver.drain()
    }
    let snapshot = driver.core.snapshot
    #expect(snapshot.blocksUsed == 0 && snapshot.blocksFree + snapshot.blocksCached == 10)
    #expect(driver.executor.ended.allSatisfy { $0.1 == .finished })
    #expect(driver.core.snapshot.preemptions == 0)
  }
}
