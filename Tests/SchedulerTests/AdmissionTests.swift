// Admission control: the bounded queue, immediate rejections with codes, all-or-nothing groups.
import Scheduler
import Testing

@Suite struct AdmissionTests {
  private func code(_ body: () throws(AdmissionError) -> Void) -> AdmissionError.Code? {
    do {
      try body()
      return nil
    } catch {
      return error.code
    }
  }

  @Test func theQueueBoundIsExact() throws {
    var configuration = config(maxRunning: 1)
    configuration.maxWaitingRequests = 2
    let driver = Driver(configuration, tokens: { _ in 100 })
    let codes = (0..<6 as Range<UInt64>).map { id in
      code { () throws(AdmissionError) in try driver.submit(request(id, count: 4, base: id * 100)) }
    }
    #expect(codes.filter { $0 == .queueFull }.count == 3)
    #expect(codes.prefix(3).allSatisfy { $0 == nil })
    #expect(driver.core.snapshot.rejections == 3)
    // One runs and two wait: still full.
    driver.step()
    #expect(driver.core.snapshot.running == 1 && driver.core.snapshot.waitingRequests == 2)
    #expect(
      code { () throws(AdmissionError) in try driver.submit(request(9, count: 4)) } == .queueFull
    )
  }

  @Test func theMessageSaysHowFullTheQueueIs() throws {
    var configuration = config(maxRunning: 1)
    configuration.maxWaitingRequests = 0
    let driver = Driver(configuration)
    try driver.submit(request(1, count: 4))
    let error = #expect(throws: AdmissionError.self) { try driver.submit(request(2, count: 4)) }
    #expect(error?.message.contains("the queue holds 1 requests (at most 0") == true)
  }

  @Test func waitingTokensAreBounded() throws {
    var configuration = config(maxRunning: 1)
    configuration.maxWaitingTokens = 100
    let driver = Driver(configuration)
    try driver.submit(request(1, count: 52))  // 52 + 8 new tokens
    #expect(
      code { () throws(AdmissionError) in try driver.submit(request(2, count: 40)) } == .queueFull
    )
    #expect(
      code { () throws(AdmissionError) in try driver.submit(request(3, count: 95)) } == .tooLong
    )
    try driver.submit(request(4, count: 32))
  }

  @Test func invalidRequestsAreRejectedWholeAndAtOnce() throws {
    let driver = Driver(config(blockCount: 4, maxSequenceLength: 20))
    try driver.submit(request(1, count: 4))
    let rejections: [(AdmissionError.Code, [SequenceRequest])] = [
      (.tooLong, [request(2, count: 21)]),
      (.tooLong, [request(2, count: 17)]),  // 5 blocks; the pool has 4
      (.duplicateID, [request(1, count: 4)]),
      (.duplicateID, [request(2, count: 4), request(2, count: 4)]),
      (.emptyPrompt, [request(2, count: 0)]),
      (.tooLong, [request(2, count: 4), request(3, count: 30)]),
    ]
    for (expected, group) in rejections {
      #expect(
        code { () throws(AdmissionError) in try driver.core.submit(group, now: driver.now) }
          == expected
      )
    }
    // Nothing of a rejected group was admitted.
    #expect(driver.core.snapshot.waiting == 1)
    #expect(driver.core.snapshot.rejections == rejections.count)
    driver.core.shutdown()
    #expect(driver.executor.ended.isEmpty)  // reported through takeEnded by the driver of a step
    #expect(driver.core.takeEnded().map(\.1) == [.shutdown])
    #expect(
      code { () throws(AdmissionError) in try driver.submit(request(5, count: 4)) } == .shuttingDown
    )
  }
}
