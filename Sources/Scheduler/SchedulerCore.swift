// The deterministic heart of the scheduler: admission, queues, block accounting and prefix
// sharing. Not thread-safe; `Scheduler` wraps it with a lock, a condition and a thread, and tests
// drive it one step at a time with an injected instant.

import Metrics

/// Continuous batching over a paged KV pool, one step at a time. Not thread-safe.
///
/// A step: sequences that were cancelled or are past their deadline leave; waiting sequences are
/// admitted while blocks and running slots allow; every decoding sequence whose consumer keeps up
/// gets one row; prefill chunks fill the rest of the step's token budget.
public final class SchedulerCore {
  public let configuration: SchedulerConfiguration
  var pool: BlockPool
  /// Waiting sequences by priority (index = rawValue), FIFO; preempted ones go to the front.
  var waiting: [[SequenceState]] = [[], []]
  /// Running sequences in admission order.
  var running: [SequenceState] = []
  /// Sequences taken out of the batch while their consumer is behind (`parkAfter`).
  var parked: [SequenceState] = []
  var byID: [SequenceID: SequenceState] = [:]
  var waitingGroups: [UInt64: Int] = [:]
  var waitingTokens = 0
  /// Hashes of full blocks that running sequences are computing, with how many compute each.
  var pending: [UInt64: Int] = [:]
  var ended: [(SequenceID, EndReason)] = []
  var stats = SchedulerSnapshot()
  var metrics: SchedulerMetrics
  var nextGroup: UInt64 = 0
  var nextAdmission: UInt64 = 0
  var preparedAt: ContinuousClock.Instant?
  private(set) var isShutDown = false

  /// Blocks kept free at admission so that running sequences can grow without preemption;
  /// waived when nothing runs.
  public var watermark: Int { max(1, configuration.blockCount / 100) }
  var blockSize: Int { configuration.blockSize }

  public init(configuration: SchedulerConfiguration) {
    precondition(configuration.blockSize > 0 && configuration.blockCount > 0)
    precondition(configuration.maxRunning > 0 && configuration.stepTokenBudget > 0)
    self.configuration = configuration
    pool = BlockPool(count: configuration.blockCount)
    metrics = SchedulerMetrics(name: configuration.name, factory: configuration.metricsFactory)
  }

  func blocksFor(_ positions: Int) -> Int { (positions + blockSize - 1) / blockSize }

  /// Adds one request (a group of sequences), all or nothing. Rejections are immediate.
  public func submit(
    _ group: [SequenceRequest],
    now: ContinuousClock.Instant
  ) throws(AdmissionError) {
    do {
      try check(group)
    } catch {
      stats.rejections += 1
      metrics.rejected(error.code)
      throw error
    }
    let groupID = nextGroup
    nextGroup += 1
    for request in group {
      let state = SequenceState(request, group: groupID, submitted: now)
      byID[state.id] = state
      enqueue(state, atFront: false)
    }
    updateGauges()
  }

  private func check(_ group: [SequenceRequest]) throws(AdmissionError) {
    let config = configuration
    guard !isShutDown else { throw AdmissionError(.shuttingDown, "the scheduler is shutting down") }
    var seen = Set<SequenceID>()
    var tokens = 0
    for request in group {
      let count = request.promptKeys.count
      guard byID[request.id] == nil, seen.insert(request.id).inserted else {
        throw AdmissionError(.duplicateID, "sequence \(request.id.rawValue) is already live")
      }
      guard count > 0 else {
        throw AdmissionError(.emptyPrompt, "sequence \(request.id.rawValue) has an empty prompt")
      }
      guard count <= config.maxSequenceLength else {
        throw AdmissionError(
          .tooLong,
          "the prompt has \(count) positions; the context holds \(config.maxSequenceLength)"
        )
      }
      guard blocksFor(count) <= config.blockCount else {
        throw AdmissionError(
          .tooLong,
          "the prompt needs \(blocksFor(count)) KV blocks; the pool has \(config.blockCount)"
        )
      }
      tokens += count + max(0, request.maxNewTokens)
    }
    guard tokens <= config.maxWaitingTokens else {
      throw AdmissionError(
        .tooLong,
        "the request needs \(tokens) tokens; the queue holds at most \(config.maxWaitingTokens)"
      )
    }
    // Requests that will join the running batch at the next step do not count as waiting.
    let bound = config.maxWaitingRequests + max(0, config.maxRunning - running.count)
    guard waitingGroups.count < bound else {
      throw AdmissionError(
        .queueFull,
        "the queue holds \(waitingGroups.count) requests (at most \(config.maxWaitingRequests) "
          + "beyond the free running slots); retry later"
      )
    }
    guard waitingTokens + tokens <= config.maxWaitingTokens else {
      throw AdmissionError(
        .queueFull,
        "the queue holds \(waitingTokens) tokens (at most \(config.maxWaitingTokens)); retry later"
      )
    }
  }

  /// Marks a sequence to leave at the next step boundary; unknown ids are ignored.
  public func cancel(_ id: SequenceID) {
    byID[id]?.cancelled = true
  }

  /// Counts for tests and metrics.
  public var snapshot: SchedulerSnapshot {
    var snapshot = stats
    snapshot.waiting = waiting[0].count + waiting[1].count
    snapshot.waitingInteractive = waiting[Priority.interactive.rawValue].count
    snapshot.waitingRequests = waitingGroups.count
    snapshot.running = running.count
    snapshot.runningInteractive = running.count { $0.priority == .interactive }
    snapshot.parked = parked.count
    snapshot.blocksUsed = pool.usedCount
    snapshot.blocksFree = pool.freeCount
    snapshot.blocksCached = pool.evictableCount
    return snapshot
  }

  /// Whether any sequence is waiting or running.
  public var hasSequences: Bool { !byID.isEmpty }

  /// One whole step: prepare, execute, complete, and report the sequences that ended.
  /// Returns whether a forward ran.
  @discardableResult
  public func step(now: ContinuousClock.Instant, executor: some StepExecutor) -> Bool {
    let plan = prepare(now: now, canAdvance: { executor.canAdvance($0) })
    for (id, reason) in takeEnded() { executor.sequenceEnded(id, reason: reason) }
    guard let plan else { return false }
    let outcomes = executor.execute(plan)
    complete(plan, outcomes: outcomes, now: now)
    for (id, reason) in takeEnded() { executor.sequenceEnded(id, reason: reason) }
    return true
  }

  /// The sequences that left since the last call, in order; the caller reports them.
  public func takeEnded() -> [(SequenceID, EndReason)] {
    defer { ended.removeAll() }
    return ended
  }

  /// Ends every sequence with `.shutdown` and refuses later submits.
  public func shutdown() {
    isShutDown = true
    for state in running + parked { end(state, .shutdown) }
    for queue in waiting {
      for state in queue { end(state, .shutdown) }
    }
    updateGauges()
  }

  // MARK: - Queue and block bookkeeping

  func enqueue(_ state: SequenceState, atFront: Bool) {
    let index = state.priority.rawValue
    if atFront {
      waiting[index].insert(state, at: 0)
    } else {
      waiting[index].append(state)
    }
    waitingGroups[state.group, default: 0] += 1
    waitingTokens += state.waitingTokens
  }

  func dequeued(_ state: SequenceState) {
    waitingTokens -= state.waitingTokens
    if let count = waitingGroups[state.group], count > 1 {
      waitingGroups[state.group] = count - 1
    } else {
      waitingGroups[state.group] = nil
    }
  }

  /// Drops the blocks and in-flight announcements of a running sequence.
  func releaseBlocks(_ state: SequenceState) {
    for index in state.pendingBlocks {
      let hash = state.hash(ofBlock: index, blockSize: blockSize)
      if let count = pending[hash], count > 1 {
        pending[hash] = count - 1
      } else {
        pending[hash] = nil
      }
    }
    state.pendingBlocks = 0..<0
    // Tail first, so that the LRU evicts a chain's tail before its head.
    for block in state.blocks.reversed() { pool.release(block) }
    state.blocks = []
    state.computed = 0
    state.registered = 0
  }

  /// Removes a sequence for good (waiting or running).
  func end(_ state: SequenceState, _ reason: EndReason) {
    if state.isRunning {
      releaseBlocks(state)
      running.removeAll { $0 === state }
      state.isRunning = false
    } else if state.isParked {
      parked.removeAll { $0 === state }
      state.isParked = false
    } else {
      let index = state.priority.rawValue
      if let position = waiting[index].firstIndex(where: { $0 === state }) {
        waiting[index].remove(at: position)
        dequeued(state)
      }
    }
    byID[state.id] = nil
    ended.append((state.id, reason))
    stats.ended += 1
  }

  /// Frees a running sequence's blocks and puts it back at the front of its queue, keeping its
  /// keys; it is recomputed from position 0 (or a shared prefix) when re-admitted.
  func preempt(_ state: SequenceState) {
    releaseBlocks(state)
    running.removeAll { $0 === state }
    state.isRunning = false
    enqueue(state, atFront: true)
    stats.preemptions += 1
    metrics.preemptions.increment()
  }

  func updateGauges() {
    metrics.queueDepth.record(waiting[0].count + waiting[1].count)
    metrics.running.record(running.count)
    metrics.blocksUsed.record(pool.usedCount)
  }
}
