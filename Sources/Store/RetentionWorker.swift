// The retention worker: a thread of its own (off the serving path) that runs a pruning pass
// when it starts and then every `interval`, until `stop()`. A pass deletes in bounded
// transactions and checks between them whether it should stop, so stopping waits for at most
// one small transaction.
import Foundation

public final class RetentionWorker: @unchecked Sendable {
  private let condition = NSCondition()
  private var stopped = false
  private var finished = false
  private var passes = 0

  /// `report` is called after every pass, on the worker's thread.
  public init(
    store: SQLiteFeedbackStore,
    policy: RetentionPolicy,
    interval: Double,
    report: @escaping @Sendable (Result<PruneReport, StoreError>) -> Void
  ) {
    let thread = Thread { [self] in
      self.loop(store: store, policy: policy, interval: interval, report: report)
    }
    thread.name = "rlhfd-retention"
    thread.start()
  }

  /// Ends the current pass after its transaction and the thread; returns when it has ended.
  public func stop() {
    condition.lock()
    stopped = true
    condition.broadcast()
    while !finished { condition.wait() }
    condition.unlock()
  }

  /// Passes completed (for tests).
  public var completedPasses: Int {
    condition.lock()
    defer { condition.unlock() }
    return passes
  }

  private var isStopped: Bool {
    condition.lock()
    defer { condition.unlock() }
    return stopped
  }

  private func loop(
    store: SQLiteFeedbackStore,
    policy: RetentionPolicy,
    interval: Double,
    report: @Sendable (Result<PruneReport, StoreError>) -> Void
  ) {
    while !isStopped {
      let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
      do {
        let result = try store.prune(policy, nowUnixMs: now) { !self.isStopped }
        report(.success(result))
      } catch {
        report(.failure(error))
      }
      condition.lock()
      passes += 1
      let deadline = Date(timeIntervalSinceNow: max(interval, 0.001))
      while !stopped && condition.wait(until: deadline) {}
      condition.unlock()
    }
    condition.lock()
    finished = true
    condition.broadcast()
    condition.unlock()
  }
}
