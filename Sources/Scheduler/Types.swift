// The value types of the scheduler's interface. The scheduler is a generic layer: it knows
// sequences of opaque content keys, KV blocks and steps, nothing about models, tokens or gRPC.
public import Metrics

/// Identifies one sequence; assigned by the caller and unique among live sequences.
public struct SequenceID: Hashable, Sendable, Comparable, CustomStringConvertible {
  public let rawValue: UInt64
  public init(_ rawValue: UInt64) { self.rawValue = rawValue }
  public static func < (lhs: SequenceID, rhs: SequenceID) -> Bool { lhs.rawValue < rhs.rawValue }
  public var description: String { "seq-\(rawValue)" }
}

/// Scheduling class: interactive requests go before training rollouts, in admission and in the
/// prefill budget. Within a class the order is FIFO.
public enum Priority: Int, Sendable, Comparable {
  case interactive = 0
  case batch = 1
  public static func < (lhs: Priority, rhs: Priority) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One sequence to run.
public struct SequenceRequest: Sendable {
  public var id: SequenceID
  /// One content key per prompt position (token ids; image positions keyed by image hash and
  /// index; the caller mixes in the model version). Equal keys mean equal KV content for the same
  /// preceding keys. Used for prefix sharing.
  public var promptKeys: [UInt64]
  /// For token accounting of the waiting queue only; the executor decides when to finish.
  public var maxNewTokens: Int
  public var priority: Priority
  /// Never computed after it; a running sequence past it is removed too (`.expired`).
  public var deadline: ContinuousClock.Instant?

  public init(
    id: SequenceID,
    promptKeys: [UInt64],
    maxNewTokens: Int,
    priority: Priority = .interactive,
    deadline: ContinuousClock.Instant? = nil
  ) {
    self.id = id
    self.promptKeys = promptKeys
    self.maxNewTokens = maxNewTokens
    self.priority = priority
    self.deadline = deadline
  }
}

/// Limits of one scheduler (one model).
public struct SchedulerConfiguration: Sendable {
  /// Positions per KV block.
  public var blockSize: Int = 32
  /// KV blocks in the pool (the memory budget, computed by the caller).
  public var blockCount: Int
  /// Sequences in the running batch at once.
  public var maxRunning: Int = 64
  /// Positions computed per step (decode rows plus prefill chunk rows).
  public var stepTokenBudget: Int = 512
  /// Requests (groups) waiting beyond the free running slots; more are rejected at once.
  public var maxWaitingRequests: Int = 64
  /// Prompt plus `maxNewTokens` of the waiting sequences; more are rejected at once.
  public var maxWaitingTokens: Int = 1 << 20
  /// Positions a sequence may reach (the context).
  public var maxSequenceLength: Int
  /// The `model` dimension of the metrics.
  public var name: String = "policy"
  /// Reuse the cached KV blocks of equal prefixes (off: every sequence computes all of its
  /// positions, as a server without prefix caching does; for comparisons and diagnosis).
  public var prefixSharing = true
  /// Where metrics go; nil means the global `MetricsSystem.factory`.
  public var metricsFactory: (any MetricsFactory)? = nil
  /// A sequence whose consumer has not caught up for this long ends with `.stalled`, freeing
  /// its slot and blocks; nil = never.
  public var stallTimeout: Duration? = .seconds(30)
  /// A sequence paused this long is parked (its slot and blocks freed, to be recomputed when
  /// its consumer catches up) while other sequences wait.
  public var parkAfter: Duration = .seconds(1)

  public init(blockCount: Int, maxSequenceLength: Int) {
    self.blockCount = blockCount
    self.maxSequenceLength = maxSequenceLength
  }
}

/// Why `submit` refused a request. Rejections are immediate; nothing of the group was admitted.
public struct AdmissionError: Error, Sendable, CustomStringConvertible {
  public enum Code: Sendable, Equatable {
    /// The waiting queue is at its request or token bound; retry later.
    case queueFull
    /// A prompt is longer than the context or than the KV pool can ever hold.
    case tooLong
    /// The id is already live, or repeated in the group.
    case duplicateID
    /// The scheduler is shutting down.
    case shuttingDown
    /// A prompt has no positions (nothing to compute, so no output could exist).
    case emptyPrompt
  }
  public let code: Code
  public let message: String
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }
  public var description: String { "\(code): \(message)" }
}

/// The rows of one sequence in a step.
public struct StepEntry: Sendable, Equatable {
  public let sequence: SequenceID
  /// Positions computed this step; keys and values get written for them.
  public let positions: Range<Int>
  /// Physical block ids covering positions `0 ..< positions.upperBound`: block `i` holds
  /// positions `i * blockSize ..< (i + 1) * blockSize`.
  public let blockTable: [Int32]
  /// `positions.upperBound` is the sequence's current length (prompt complete, or decoding): the
  /// executor must return `.append` or `.finish` for this entry.
  public let producesOutput: Bool

  public init(
    sequence: SequenceID,
    positions: Range<Int>,
    blockTable: [Int32],
    producesOutput: Bool
  ) {
    self.sequence = sequence
    self.positions = positions
    self.blockTable = blockTable
    self.producesOutput = producesOutput
  }
}

/// One batched forward: the entries' rows are concatenated by the executor.
///
/// The executor keeps no position state of its own: an entry whose positions start below what it
/// computed for that sequence before means the sequence was preempted and is being recomputed
/// (from position 0 or from the end of a shared prefix); the block table says where the KV goes.
public struct StepPlan: Sendable, Equatable {
  public let entries: [StepEntry]
  public init(entries: [StepEntry]) { self.entries = entries }
}

/// What the executor made of one entry.
public enum StepOutcome: Sendable, Equatable {
  /// No output this step (a mid-prompt chunk).
  case none
  /// Sampled a token with this content key; its position is the old length, computed next step.
  case append(key: UInt64)
  /// The sequence is done.
  case finish
}

/// Why a sequence left for good.
public enum EndReason: Sendable, Equatable {
  /// The executor returned `.finish` (or no output where one was due).
  case finished
  /// `cancel` was called.
  case cancelled
  /// Its deadline passed.
  case expired
  /// The scheduler shut down.
  case shutdown
  /// It cannot grow even with the whole KV pool to itself.
  case outOfMemory
  /// An append would take it past `maxSequenceLength`; the appended token was delivered.
  case lengthLimit
  /// Its consumer did not catch up within `stallTimeout`.
  case stalled
}

/// Runs the steps. Called only on the scheduler's thread, never with the scheduler's lock held
/// except `canAdvance` (so `canAdvance` must not call back into the `Scheduler`).
public protocol StepExecutor: AnyObject {
  /// One batched forward; returns one outcome per entry, in the same order.
  func execute(_ plan: StepPlan) -> [StepOutcome]
  /// The sequence left for good; release its state (its blocks are already freed). Called exactly
  /// once per admitted sequence, never for a preemption or a rejected submit.
  func sequenceEnded(_ id: SequenceID, reason: EndReason)
  /// False while the consumer of this sequence is behind (stream backpressure): the sequence keeps
  /// its blocks but gets no decode row this step (it is parked, or ends `.stalled`, when that lasts:
  /// `SchedulerConfiguration.parkAfter`, `.stallTimeout`).
  func canAdvance(_ id: SequenceID) -> Bool
}

/// Counts for tests and metrics.
public struct SchedulerSnapshot: Sendable, Equatable {
  /// Sequences waiting (including preempted ones).
  public var waiting = 0
  /// Of `waiting`, those of `interactive` priority.
  public var waitingInteractive = 0
  /// Requests (groups) with at least one waiting sequence.
  public var waitingRequests = 0
  public var running = 0
  /// Of `running`, those of `interactive` priority (parked ones not counted: they compute
  /// nothing until their consumer catches up).
  public var runningInteractive = 0
  /// Blocks referenced by running sequences.
  public var blocksUsed = 0
  /// Blocks on the free list.
  public var blocksFree = 0
  /// Unreferenced blocks that keep computed KV for prefix sharing (evictable).
  public var blocksCached = 0
  public var steps = 0
  /// Positions computed, in total and by kind.
  public var computedPositions = 0
  public var prefillPositions = 0
  public var decodePositions = 0
  /// Prompt positions not computed thanks to prefix sharing.
  public var reusedPositions = 0
  public var preemptions = 0
  /// Paused sequences parked so that waiting ones could run (`parkAfter`), and parked now.
  public var parks = 0
  public var parked = 0
  public var rejections = 0
  public var ended = 0
}
