// A fake executor that records plans and returns scripted outcomes, and helpers to drive a
// SchedulerCore step by step with an injected instant.
import Scheduler
import Synchronization
import Testing

/// Records every plan; appends keys until a sequence reached its scripted token count, then
/// finishes it. Thread-safe so that the threaded tests can share it with the scheduler thread.
final class FakeExecutor: StepExecutor, Sendable {
  struct Record {
    var plans: [StepPlan] = []
    var ended: [(SequenceID, EndReason)] = []
    var produced: [SequenceID: Int] = [:]
    var blocked: Set<SequenceID> = []
    /// The last writer of each slot (block * blockSize + offset).
    var slots: [Int64: SequenceID] = [:]
    var doubleWrites = 0
  }

  let blockSize: Int
  let tokens: @Sendable (SequenceID) -> Int
  let record = Mutex(Record())

  /// - Parameter tokens: how many keys each sequence appends before `.finish`.
  init(blockSize: Int, tokens: @escaping @Sendable (SequenceID) -> Int = { _ in 3 }) {
    self.blockSize = blockSize
    self.tokens = tokens
  }

  func execute(_ plan: StepPlan) -> [StepOutcome] {
    record.withLock { record in
      record.plans.append(plan)
      let ended = Set(record.ended.map(\.0))
      return plan.entries.map { entry in
        for position in entry.positions {
          let block = Int64(entry.blockTable[position / blockSize])
          let slot = block * Int64(blockSize) + Int64(position % blockSize)
          // Overwriting what a live sequence wrote (one that has not ended) means a block is
          // shared while written, or a recompute (only after a preemption).
          if let writer = record.slots[slot], !ended.contains(writer) { record.doubleWrites += 1 }
          record.slots[slot] = entry.sequence
        }
        // A block written in this step is in no other entry's table.
        let written = Set(
          entry.blockTable[(entry.positions.lowerBound / blockSize)...]
        )
        for other in plan.entries where other.sequence != entry.sequence {
          record.doubleWrites += other.blockTable.filter { written.contains($0) }.count
        }
        guard entry.producesOutput else { return .none }
        let count = record.produced[entry.sequence, default: 0]
        guard count < tokens(entry.sequence) else { return .finish }
        record.produced[entry.sequence] = count + 1
        return .append(key: 1_000_000 + UInt64(count))
      }
    }
  }

  func sequenceEnded(_ id: SequenceID, reason: EndReason) {
    record.withLock { $0.ended.append((id, reason)) }
  }

  func canAdvance(_ id: SequenceID) -> Bool {
    record.withLock { !$0.blocked.contains(id) }
  }

  var plans: [StepPlan] { record.withLock { $0.plans } }
  var ended: [(SequenceID, EndReason)] { record.withLock { $0.ended } }
  /// Writes into a block another live sequence uses (never expected without preemption).
  var doubleWrites: Int { record.withLock { $0.doubleWrites } }
  func setBlocked(_ id: SequenceID, _ blocked: Bool) {
    record.withLock {
      if blocked { $0.blocked.insert(id) } else { $0.blocked.remove(id) }
    }
  }
  func endReasons(_ id: SequenceID) -> [EndReason] {
    ended.filter { $0.0 == id }.map(\.1)
  }
}

func config(
  blockSize: Int = 4,
  blockCount: Int = 64,
  budget: Int = 16,
  maxRunning: Int = 8,
  maxSequenceLength: Int = 10_000
) -> SchedulerConfiguration {
  var configuration = SchedulerConfiguration(
    blockCount: blockCount,
    maxSequenceLength: maxSequenceLength
  )
  configuration.blockSize = blockSize
  configuration.stepTokenBudget = budget
  configuration.maxRunning = maxRunning
  return configuration
}

/// Keys `base ..< base + count`.
func request(
  _ id: UInt64,
  count: Int,
  base: UInt64 = 0,
  priority: Priority = .interactive,
  deadline: ContinuousClock.Instant? = nil
) -> SequenceRequest {
  SequenceRequest(
    id: SequenceID(id),
    promptKeys: (0..<UInt64(count)).map { base + $0 },
    maxNewTokens: 8,
    priority: priority,
    deadline: deadline
  )
}

/// Drives a core with a fake clock that advances one second per step.
final class Driver {
  let core: SchedulerCore
  let executor: FakeExecutor
  let start = ContinuousClock.now
  var stepIndex = 0

  init(
    _ configuration: SchedulerConfiguration,
    tokens: @escaping @Sendable (SequenceID) -> Int = { _ in 3 }
  ) {
    core = SchedulerCore(configuration: configuration)
    executor = FakeExecutor(blockSize: configuration.blockSize, tokens: tokens)
  }

  var now: ContinuousClock.Instant { start + .seconds(stepIndex) }

  func submit(_ group: SequenceRequest...) throws(AdmissionError) {
    try core.submit(group, now: now)
  }

  /// One step; returns its plan (nil if no forward ran).
  @discardableResult
  func step() -> StepPlan? {
    let before = executor.plans.count
    stepIndex += 1
    let ran = core.step(now: now, executor: executor)
    return ran && executor.plans.count > before ? executor.plans.last : nil
  }

  /// Steps until nothing is left (bounded); checks the per-step invariants on the way.
  func drain(maxSteps: Int = 10_000) {
    var steps = 0
    while core.hasSequences && steps < maxSteps {
      let plan = step()
      checkInvariants(plan)
      steps += 1
    }
    #expect(!core.hasSequences, "did not drain in \(maxSteps) steps")
  }

  func checkInvariants(_ plan: StepPlan?) {
    let configuration = core.configuration
    let snapshot = core.snapshot
    #expect(
      snapshot.blocksUsed + snapshot.blocksFree + snapshot.blocksCached
        == configuration.blockCount
    )
    #expect(snapshot.running <= configuration.maxRunning)
    guard let plan else { return }
    #expect(plan.entries.reduce(0) { $0 + $1.positions.count } <= configuration.stepTokenBudget)
    #expect(Set(plan.entries.map(\.sequence)).count == plan.entries.count)
    for entry in plan.entries {
      #expect(!entry.positions.isEmpty)
      let blocks =
        (entry.positions.upperBound + configuration.blockSize - 1)
        / configuration.blockSize
      #expect(entry.blockTable.count == blocks)
    }
  }

  /// Entries of one sequence across all plans so far.
  func entries(of id: UInt64) -> [StepEntry] {
    executor.plans.flatMap { $0.entries.filter { $0.sequence == SequenceID(id) } }
  }
}
