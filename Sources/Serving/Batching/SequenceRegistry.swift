// The sequences an executor knows: RPC tasks add theirs before submitting them to the scheduler
// (so a step never meets an unknown id), and the scheduler thread looks them up each step and
// removes them when the scheduler lets go.
import Scheduler
import Synchronization

final class SequenceRegistry<Sequence: BatchSequence & Sendable>: Sendable {
  private let table = Mutex<[SequenceID: Sequence]>([:])

  func add(_ sequences: [Sequence]) {
    table.withLock { table in for sequence in sequences { table[sequence.id] = sequence } }
  }

  /// Removes and returns the sequence (nil when unknown or already removed).
  @discardableResult
  func remove(_ id: SequenceID) -> Sequence? {
    table.withLock { $0.removeValue(forKey: id) }
  }

  func sequence(_ id: SequenceID) -> Sequence? { table.withLock { $0[id] } }

  /// The sequence of each entry of `plan`, in order.
  func sequences(of plan: StepPlan) -> [Sequence?] {
    table.withLock { table in plan.entries.map { table[$0.sequence] } }
  }
}
