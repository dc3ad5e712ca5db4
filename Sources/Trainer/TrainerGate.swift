// The background lane's gate, called by the training thread between micro-batches: it blocks
// while an operator has paused training, gives way to interactive requests under a compute
// share, and ends the work in flight when the daemon stops. Never called on Swift's
// cooperative threads (the training thread is its own pthread).
public import Engine
import Foundation
import Metrics
import Synchronization

/// The training thread was told to stop (shutdown); the step in flight is abandoned.
public struct TrainerStopped: Error, Sendable, Equatable {}

public final class TrainerGate: Sendable {
  struct State {
    var paused: Bool
    var reason = ""
    var stopping = false
    /// When the training thread last left the gate (the start of the work since).
    var resumedAt: ContinuousClock.Instant?
    /// Seconds spent waiting for interactive requests, and micro-batches that waited.
    var yieldedSeconds = 0.0
    var yields = 0
  }

  private let state: Mutex<State>
  /// Interactive requests waiting or running now (the runners' schedulers).
  private let demand: @Sendable () -> Int
  private let share: Double
  private let tick: Duration
  /// The yields as metrics: `rlhfd_training_yields_total` (micro-batches that waited) and
  /// `rlhfd_training_yield_seconds_total` (time spent waiting for interactive requests).
  private let yieldCount = Counter(label: "rlhfd_training_yields_total")
  private let yieldSeconds = FloatingPointCounter(label: "rlhfd_training_yield_seconds_total")

  public init(
    paused: Bool = false,
    computeShare: Double,
    demand: @escaping @Sendable () -> Int,
    tick: Duration = .milliseconds(5)
  ) {
    state = Mutex(State(paused: paused))
    self.demand = demand
    share = min(1, max(0.01, computeShare))
    self.tick = tick
  }

  public var isPaused: Bool { state.withLock { $0.paused } }
  public var pauseReason: String { state.withLock { $0.reason } }
  public var isStopping: Bool { state.withLock { $0.stopping } }
  /// (seconds yielded to interactive requests, micro-batches that yielded).
  public var yielded: (seconds: Double, count: Int) {
    state.withLock { ($0.yieldedSeconds, $0.yields) }
  }

  /// Returns whether the state changed.
  @discardableResult
  public func pause(reason: String) -> Bool {
    state.withLock { s in
      defer {
        s.paused = true
        s.reason = reason
      }
      return !s.paused
    }
  }

  @discardableResult
  public func resume() -> Bool {
    state.withLock { s in
      defer {
        s.paused = false
        s.reason = ""
      }
      return s.paused
    }
  }

  public func stop() { state.withLock { $0.stopping = true } }

  /// The hook for `PPOStep.run` and `RewardModelUpdate.run`.
  public var yielding: TrainingYield {
    TrainingYield { () throws(TrainingInterrupted) in try self.pass() }
  }

  /// Between micro-batches: blocks while paused; while interactive requests wait, waits up to
  /// d · (1 − share) / share where d is the work since the gate was last left; throws once the
  /// daemon stops.
  public func pass() throws(TrainingInterrupted) {
    let clock = ContinuousClock()
    let arrived = clock.now
    let worked = state.withLock { s in s.resumedAt.map { arrived - $0 } } ?? .zero
    let allowance = worked * ((1 - share) / share)
    var yielded = false
    while true {
      let (paused, stopping) = state.withLock { ($0.paused, $0.stopping) }
      if stopping { throw TrainingInterrupted("the daemon is stopping") }
      if paused {
        Thread.sleep(forTimeInterval: 0.02)
        continue
      }
      if clock.now - arrived < allowance, demand() > 0 {
        yielded = true
        Self.sleep(tick)
        continue
      }
      break
    }
    let left = clock.now
    state.withLock { s in
      s.resumedAt = left
      if yielded {
        s.yields += 1
        s.yieldedSeconds += Self.seconds(left - arrived)
      }
    }
    if yielded {
      yieldCount.increment()
      yieldSeconds.increment(by: Self.seconds(left - arrived))
    }
  }

  /// Marks the start of a stretch of training work (the first micro-batch after idle).
  public func begin() { state.withLock { $0.resumedAt = ContinuousClock.now } }

  static func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
  }

  private static func sleep(_ d: Duration) { Thread.sleep(forTimeInterval: seconds(d)) }
}
