// One step of the core: leave, admit, plan (decode rows, then prefill chunks), complete.

import Metrics

extension SchedulerCore {
  /// Starts a step: removes leavers, admits, and plans the rows. Nil when there is nothing to
  /// compute. `canAdvance` is asked for each decoding sequence (backpressure).
  public func prepare(
    now: ContinuousClock.Instant,
    canAdvance: (SequenceID) -> Bool
  ) -> StepPlan? {
    dropLeavers(now: now)
    unpark(canAdvance: canAdvance)
    parkPaused(now: now)
    admit()
    let entries = plan(now: now, canAdvance: canAdvance)
    updateGauges()
    guard !entries.isEmpty else { return nil }
    preparedAt = now
    return StepPlan(entries: entries)
  }

  /// Ends a step with the executor's outcomes (one per entry, in order).
  public func complete(_ plan: StepPlan, outcomes: [StepOutcome], now: ContinuousClock.Instant) {
    precondition(outcomes.count == plan.entries.count, "one outcome per entry")
    for (entry, outcome) in zip(plan.entries, outcomes) {
      guard let state = byID[entry.sequence], state.isRunning else { continue }
      let rows = entry.positions.count
      stats.computedPositions += rows
      if rows == 1 && entry.positions.lowerBound >= state.promptCount {
        stats.decodePositions += 1
        metrics.decodeTokens.increment()
      } else {
        stats.prefillPositions += rows
        metrics.prefillTokens.increment(by: rows)
      }
      state.computed = entry.positions.upperBound
      registerComputed(state)
      switch (entry.producesOutput, outcome) {
      case (true, .append(let key)):
        if state.generated == 0 {
          metrics.timeToFirstToken.record(from: state.submitted, to: now)
        } else if let last = state.lastAppend {
          metrics.interTokenLatency.record(from: last, to: now)
        }
        state.lastAppend = now
        state.append(key)
        if state.length > configuration.maxSequenceLength { end(state, .lengthLimit) }
      case (true, _), (false, .finish):
        // No output where one was due counts as the end: the sequence has nothing to compute.
        end(state, .finished)
      case (false, _):
        break
      }
    }
    stats.steps += 1
    if let preparedAt { metrics.stepDuration.record(from: preparedAt, to: now) }
    preparedAt = nil
    updateGauges()
  }

  private func dropLeavers(now: ContinuousClock.Instant) {
    for state in running + parked {
      if state.cancelled || state.isExpired(at: now) {
        end(state, state.cancelled ? .cancelled : .expired)
      } else if isStalled(state, at: now) {
        end(state, .stalled)
      }
    }
    for queue in waiting {
      for state in queue where state.cancelled || state.isExpired(at: now) {
        end(state, state.cancelled ? .cancelled : .expired)
      }
    }
  }

  /// Admits waiting sequences in order (interactive first, FIFO within a class) while running
  /// slots and blocks allow. A sequence whose next shareable block is being computed by a running
  /// sequence is held (skipped) until that block is registered; otherwise the first sequence that
  /// does not fit stops admission, so large prompts are not starved by smaller ones behind them.
  private func admit() {
    for index in waiting.indices {
      var position = 0
      while position < waiting[index].count {
        guard running.count < configuration.maxRunning else { return }
        let state = waiting[index][position]
        // Defensive (a preempted sequence always fits the pool alone): never wait forever.
        guard blocksFor(state.length) <= configuration.blockCount else {
          end(state, .outOfMemory)
          continue
        }
        // Reuse at most the blocks before the last position, so that output exists.
        let reusable = configuration.prefixSharing ? (state.length - 1) / blockSize : 0
        var reused: [Int32] = []
        var held = false
        for block in 0..<reusable {
          let hash = state.hash(ofBlock: block, blockSize: blockSize)
          guard let cached = pool.lookup(hash) else {
            held = pending[hash] != nil
            break
          }
          reused.append(cached)
        }
        if held {
          position += 1
          continue
        }
        let needed = blocksFor(state.length) - reused.count
        let revived = reused.count { pool.isEvictable($0) }
        let reserve = running.isEmpty ? 0 : watermark
        guard pool.availableCount - revived >= needed + reserve else { return }
        for block in reused { pool.retain(block) }
        var blocks = reused
        for _ in 0..<needed {
          guard let block = pool.allocate() else { preconditionFailure("free blocks miscounted") }
          blocks.append(block)
        }
        waiting[index].remove(at: position)
        dequeued(state)
        state.blocks = blocks
        state.computed = reused.count * blockSize
        state.registered = reused.count
        stats.reusedPositions += state.computed
        let announced = configuration.prefixSharing ? state.length / blockSize : 0
        state.pendingBlocks = reused.count..<max(reused.count, announced)
        for block in state.pendingBlocks {
          pending[state.hash(ofBlock: block, blockSize: blockSize), default: 0] += 1
        }
        state.admitOrder = nextAdmission
        nextAdmission += 1
        state.isRunning = true
        running.append(state)
      }
    }
  }

  private func plan(
    now: ContinuousClock.Instant,
    canAdvance: (SequenceID) -> Bool
  ) -> [StepEntry] {
    let budget = configuration.stepTokenBudget
    // Decode rows first, so that streaming never stalls behind prefill.
    var decoding: [SequenceState] = []
    for state in running where state.isRunning && state.remaining == 1 {
      guard decoding.count < budget else { break }
      guard canAdvance(state.id) else {
        if state.pausedSince == nil { state.pausedSince = now }
        continue
      }
      state.pausedSince = nil
      if state.blocks.count * blockSize < state.length {
        guard grow(state) else { continue }
      }
      decoding.append(state)
    }
    // Growing may have preempted sequences planned earlier in the loop.
    decoding.removeAll { !$0.isRunning }
    var entries = decoding.map { entry($0, rows: 1) }
    var left = budget - entries.count
    let chunks = prefillChunks(budget: &left)
    entries += chunks.map { entry($0.state, rows: $0.rows) }
    return entries
  }

  /// Prefill fairness: within each priority class (interactive first) the oldest sequence comes
  /// first, so it progresses every step, then the others by shortest remaining prompt. While
  /// several prompts are pending, each gets at most half the budget in a first pass; what is left
  /// goes round again in the same order without the cap.
  private func prefillChunks(budget left: inout Int) -> [(state: SequenceState, rows: Int)] {
    var order: [SequenceState] = []
    for priority in [Priority.interactive, .batch] {
      let candidates = running.filter { $0.priority == priority && $0.remaining > 1 }
      guard let oldest = candidates.first else { continue }
      order.append(oldest)
      order += candidates.dropFirst().sorted {
        ($0.remaining, $0.admitOrder) < ($1.remaining, $1.admitOrder)
      }
    }
    let cap = order.count > 1 ? max(1, left / 2) : left
    var rows = Array(repeating: 0, count: order.count)
    for (index, state) in order.enumerated() where left > 0 {
      rows[index] = min(state.remaining, cap, left)
      left -= rows[index]
    }
    for (index, state) in order.enumerated() where left > 0 {
      let extra = min(state.remaining - rows[index], left)
      rows[index] += extra
      left -= extra
    }
    return zip(order, rows).filter { $0.1 > 0 }.map { ($0.0, $0.1) }
  }

  private func entry(_ state: SequenceState, rows: Int) -> StepEntry {
    let positions = state.computed..<(state.computed + rows)
    return StepEntry(
      sequence: state.id,
      positions: positions,
      blockTable: Array(state.blocks.prefix(blocksFor(positions.upperBound))),
      producesOutput: positions.upperBound == state.length
    )
  }

  /// Gives a decoding sequence the block for its next position: a free or evicted cached block,
  /// else by preempting the lowest-priority, most recently admitted running sequence (possibly
  /// itself). Alone and still out of blocks, it ends with `.outOfMemory`. Returns whether it
  /// still runs with the block.
  private func grow(_ state: SequenceState) -> Bool {
    while true {
      if let block = pool.allocate() {
        state.blocks.append(block)
        return true
      }
      guard running.count > 1 else {
        end(state, .outOfMemory)
        return false
      }
      let victim = running.max {
        ($0.priority.rawValue, $0.admitOrder) < ($1.priority.rawValue, $1.admitOrder)
      }
      guard let victim, victim !== state else {
        preempt(state)
        return false
      }
      preempt(victim)
    }
  }

  /// Registers the newly computed full blocks in the prefix cache and retires their in-flight
  /// announcements, which releases sequences held for them.
  private func registerComputed(_ state: SequenceState) {
    let full = state.computed / blockSize
    while state.registered < full {
      let index = state.registered
      pool.register(state.blocks[index], hash: state.hash(ofBlock: index, blockSize: blockSize))
      state.registered += 1
    }
    let announced = state.pendingBlocks
    let done = announced.lowerBound..<max(announced.lowerBound, min(full, announced.upperBound))
    for index in done {
      let hash = state.hash(ofBlock: index, blockSize: blockSize)
      if let count = pending[hash], count > 1 {
        pending[hash] = count - 1
      } else {
        pending[hash] = nil
      }
    }
    state.pendingBlocks = done.upperBound..<max(done.upperBound, announced.upperBound)
  }
}
