// The load signal a background lane (the trainer) reads before each micro-batch: how much
// interactive work a runner has, from the request's arrival (tokenizing, image decoding and
// encoding before the scheduler sees it) through waiting and running in the batch. Rollouts and
// other `batch`-priority work are counted apart, so the trainer's own requests never hold it
// back. Cheap: two atomics and the scheduler's counters under its lock.
import Scheduler
import ServingTypes
import Synchronization

/// A runner's load at one instant.
public struct RunnerLoad: Sendable, Equatable {
  /// Interactive requests accepted and not yet in the scheduler (being tokenized, or their
  /// images decoded or encoded).
  public var interactivePreparing = 0
  /// Interactive sequences waiting in the scheduler (preempted ones included).
  public var interactiveWaiting = 0
  /// Interactive sequences in the running batch (parked ones excluded).
  public var interactiveRunning = 0
  /// Every waiting / running sequence, batch priority included.
  public var waiting = 0
  public var running = 0

  public init() {}

  /// Interactive work present: preparing, waiting or running. 0 = the lane may use the cores.
  public var interactiveDemand: Int {
    interactivePreparing + interactiveWaiting + interactiveRunning
  }

  init(preparing: Int, _ snapshot: SchedulerSnapshot) {
    interactivePreparing = preparing
    interactiveWaiting = snapshot.waitingInteractive
    interactiveRunning = snapshot.runningInteractive
    waiting = snapshot.waiting
    running = snapshot.running
  }
}

/// Counts interactive requests between arrival and admission.
final class PreparingCount: Sendable {
  fileprivate let count = Atomic<Int>(0)

  var value: Int { count.load(ordering: .relaxed) }

  /// A mark for one request of `priority` (counted when interactive) until `done()` or until
  /// the mark is dropped.
  func mark(_ priority: RequestPriority) -> PreparingMark {
    guard priority == .interactive else { return PreparingMark(nil) }
    count.add(1, ordering: .relaxed)
    return PreparingMark(self)
  }
}

/// One request's place in `PreparingCount`: `done()` once it is in the scheduler (after the
/// submit, so that the request is never counted nowhere) or has failed; dropping it does the
/// same.
final class PreparingMark: Sendable {
  private let owner: PreparingCount?
  private let finished = Atomic<Bool>(false)

  fileprivate init(_ owner: PreparingCount?) { self.owner = owner }

  func done() {
    guard let owner, !finished.exchange(true, ordering: .relaxed) else { return }
    owner.count.subtract(1, ordering: .relaxed)
  }

  deinit { done() }
}
