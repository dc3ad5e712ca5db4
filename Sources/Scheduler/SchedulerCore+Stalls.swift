// Sequences whose consumer stopped reading (stream backpressure). A paused sequence keeps its
// slot and KV blocks for a moment, since most consumers catch up within milliseconds; one paused
// for `parkAfter` while others wait is parked (blocks freed, out of the batch, recomputed from
// the prefix cache when its consumer catches up), and one paused for `stallTimeout` ends
// `.stalled`. So a client that never reads can hold neither capacity nor memory for long.

extension SchedulerCore {
  func isStalled(_ state: SequenceState, at now: ContinuousClock.Instant) -> Bool {
    guard let since = state.pausedSince, let timeout = configuration.stallTimeout else {
      return false
    }
    return now - since >= timeout
  }

  /// Parks the running sequences paused for `parkAfter` or longer, while any sequence waits.
  func parkPaused(now: ContinuousClock.Instant) {
    guard !waiting[0].isEmpty || !waiting[1].isEmpty else { return }
    for state in running {
      guard let since = state.pausedSince, now - since >= configuration.parkAfter else {
        continue
      }
      releaseBlocks(state)
      running.removeAll { $0 === state }
      state.isRunning = false
      state.isParked = true
      parked.append(state)
      stats.parks += 1
    }
  }

  /// Parked sequences whose consumer caught up go back to the front of their queue.
  func unpark(canAdvance: (SequenceID) -> Bool) {
    for state in parked where canAdvance(state.id) {
      parked.removeAll { $0 === state }
      state.isParked = false
      state.pausedSince = nil
      enqueue(state, atFront: true)
    }
  }
}
