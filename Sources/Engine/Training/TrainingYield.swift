/// A training pass's yield point (issue 13 §5: training "yields between micro-batches whenever
/// interactive requests wait"): the trainer calls it before every micro-batch's forward and
/// backward and between the per-sequence forwards that need no gradients (rollout log-probs,
/// held-out scores). The body decides what a yield means:
/// - return at once: keep training;
/// - block, then return: pause (interactive requests wait, `PauseTraining`), resume later;
/// - throw `TrainingInterrupted`: stop (shutdown). The pass aborts with its `interrupted` error;
///   parameters, gradients and optimizer moments may then be partially updated (an optimizer step
///   of an earlier minibatch applied, a later one not), so the caller restores from its trainer
///   checkpoint before training again.
///
/// Called on the training thread, synchronously; no lock of the trainer is held across it.
public struct TrainingYield: Sendable {
  public let body: @Sendable () throws(TrainingInterrupted) -> Void

  public init(_ body: @escaping @Sendable () throws(TrainingInterrupted) -> Void) {
    self.body = body
  }

  /// Calls the body: returns to keep going, throws to stop.
  public func callAsFunction() throws(TrainingInterrupted) { try body() }
}

/// Why a yield point stopped a training pass (shutdown, a cancelled run).
public struct TrainingInterrupted: Error, Sendable, Equatable, CustomStringConvertible {
  public var reason: String

  public init(_ reason: String) { self.reason = reason }

  public var description: String { "training interrupted: \(reason)" }
}
