// The scheduler's view of one sequence.

final class SequenceState {
  let id: SequenceID
  let group: UInt64
  let priority: Priority
  let deadline: ContinuousClock.Instant?
  let submitted: ContinuousClock.Instant
  let maxNewTokens: Int
  let promptCount: Int
  /// Known positions: the prompt, then the sampled keys.
  private(set) var keys: [UInt64]
  /// Chained content hashes of the full blocks of `keys`, computed lazily.
  private var hashes: [UInt64] = []
  /// Physical blocks covering at least positions `0 ..< computed` (while running).
  var blocks: [Int32] = []
  /// Positions whose KV is computed (while running).
  var computed = 0
  /// Blocks `0 ..< registered` are registered in the prefix cache or found to be duplicates.
  var registered = 0
  /// Block indices whose hashes this sequence announced as being computed (in-flight sharing).
  var pendingBlocks: Range<Int> = 0..<0
  var admitOrder: UInt64 = 0
  var isRunning = false
  /// Parked: paused by its consumer and out of the batch (no blocks), neither running nor waiting.
  var isParked = false
  /// Since when its consumer has been behind (nil while it keeps up).
  var pausedSince: ContinuousClock.Instant?
  var cancelled = false
  var generated = 0
  var lastAppend: ContinuousClock.Instant?

  init(_ request: SequenceRequest, group: UInt64, submitted: ContinuousClock.Instant) {
    id = request.id
    self.group = group
    priority = request.priority
    deadline = request.deadline
    self.submitted = submitted
    maxNewTokens = request.maxNewTokens
    promptCount = request.promptKeys.count
    keys = request.promptKeys
  }

  var length: Int { keys.count }
  var remaining: Int { keys.count - computed }
  /// Tokens this sequence counts for in the waiting-token bound.
  var waitingTokens: Int { keys.count + max(0, maxNewTokens - generated) }

  func append(_ key: UInt64) {
    keys.append(key)
    generated += 1
  }

  func isExpired(at now: ContinuousClock.Instant) -> Bool {
    guard let deadline else { return false }
    return deadline <= now
  }

  /// The content hash of full block `index` (its keys must be known).
  func hash(ofBlock index: Int, blockSize: Int) -> UInt64 {
    while hashes.count <= index {
      let block = hashes.count
      let parent = hashes.last ?? 0
      hashes.append(
        chainHash(parent: parent, keys: keys[block * blockSize..<(block + 1) * blockSize])
      )
    }
    return hashes[index]
  }
}
