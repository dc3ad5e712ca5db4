import Engine
import Foundation
import Synchronization
import Testing

@testable import Trainer

@Suite struct TrainerGateTests {
  @Test func passesAtOnceWithoutDemand() throws {
    let gate = TrainerGate(computeShare: 0.25, demand: { 0 })
    gate.begin()
    let start = ContinuousClock.now
    try gate.pass()
    // Bounds loose enough for a loaded 2-core host: a yield would wait ~forever here (none).
    #expect(ContinuousClock.now - start < .seconds(1))
    #expect(gate.yielded.count == 0)
  }

  @Test func yieldsToInteractiveDemandUpToTheShare() throws {
    // 40 ms of work at a 0.5 share: waits up to 40 ms while interactive requests wait.
    let gate = TrainerGate(computeShare: 0.5, demand: { 1 }, tick: .milliseconds(1))
    let begun = ContinuousClock.now
    gate.begin()
    Thread.sleep(forTimeInterval: 0.04)
    let start = ContinuousClock.now
    try gate.pass()
    let waited = ContinuousClock.now - start
    // It waits as long as it worked (the sleep may overshoot on a loaded host), not longer.
    let worked = start - begun
    #expect(waited >= .milliseconds(35))
    #expect(waited < worked + .seconds(1))
    #expect(gate.yielded.count == 1)
  }

  @Test func stopsWaitingWhenDemandEnds() throws {
    let demand = Atomic<Int>(1)
    let gate = TrainerGate(computeShare: 0.01, demand: { demand.load(ordering: .relaxed) })
    gate.begin()
    Thread.sleep(forTimeInterval: 0.05)  // allowance ≈ 5 s
    Thread.detachNewThread {
      Thread.sleep(forTimeInterval: 0.05)
      demand.store(0, ordering: .relaxed)
    }
    let start = ContinuousClock.now
    try gate.pass()
    #expect(ContinuousClock.now - start < .seconds(2))
  }

  @Test func blocksWhilePausedAndThrowsOnStop() throws {
    let gate = TrainerGate(paused: true, computeShare: 1, demand: { 0 })
    #expect(gate.isPaused)
    let passed = Atomic<Bool>(false)
    let thread = Thread {
      do {
        try gate.pass()
        passed.store(true, ordering: .relaxed)
      } catch {}
    }
    thread.start()
    Thread.sleep(forTimeInterval: 0.1)
    let before = passed.load(ordering: .relaxed)
    #expect(!before)
    #expect(gate.resume())
    // The paused gate polls every 20 ms; allow a loaded host up to 5 s.
    for _ in 0..<250 where !passed.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: 0.02) }
    let after = passed.load(ordering: .relaxed)
    #expect(after)
    gate.pause(reason: "x")
    gate.stop()
    #expect(throws: TrainingInterrupted.self) { try gate.pass() }
  }
}
