// The native side of the trainer's RPCs (GetTrainingStatus, WatchTraining, PauseTraining,
// ResumeTraining): what the trainer reports and how it is controlled. No proto types here; the
// services map these to messages, and errors are `BackendError`s.

/// What the trainer is doing.
public enum TrainerState: Sendable, Equatable {
  /// Training is off in the configuration.
  case disabled
  /// Waiting for enough feedback to run a step.
  case idle
  /// Running rollouts, reward-model updates or PPO steps.
  case running
  /// Paused by an operator.
  case paused
  /// Stopped after an error (`TrainerStatus.message` says which).
  case failed
}

/// A snapshot of the trainer (the store's pending counts are added by the service).
public struct TrainerStatus: Sendable, Equatable {
  public var state: TrainerState
  /// The pause reason, the last error, or what the trainer waits for; may be empty.
  public var message = ""
  /// PPO steps completed (over the store's life, restored from checkpoints).
  public var step: UInt64 = 0
  /// The newest policy version the trainer published ("" = none yet).
  public var latestPolicyVersion = ""
  /// The reward-model version Score and PPO use.
  public var rewardModelVersion = ""
  /// Mean total reward of the last step's rollouts.
  public var lastMeanReward: Float = 0
  /// Unix time (ms) of the last completed step; 0 = none.
  public var lastStepUnixMs: Int64 = 0

  public init(state: TrainerState, message: String = "") {
    self.state = state
    self.message = message
  }
}

/// Figures of one completed PPO step.
public struct TrainerStepReport: Sendable, Equatable {
  public var step: UInt64
  public var rollouts: Int
  public var tokens: Int
  public var rewardMean: Float
  public var rewardStd: Float
  /// Mean per-token KL to the reference policy (nats).
  public var kl: Float
  public var policyLoss: Float
  public var valueLoss: Float
  public var clipFraction: Float
  public var entropy: Float
  public var approxKL: Float
  public var gradNorm: Float
  public var learningRate: Float
  public var seconds: Double

  public init(step: UInt64) {
    self.step = step
    (rollouts, tokens) = (0, 0)
    (rewardMean, rewardStd, kl, policyLoss, valueLoss) = (0, 0, 0, 0, 0)
    (clipFraction, entropy, approxKL, gradNorm, learningRate) = (0, 0, 0, 0, 0)
    seconds = 0
  }
}

/// A reward-model update and whether it was adopted.
public struct RewardModelUpdateReport: Sendable, Equatable {
  public var version: String
  public var parent: String
  public var trainPairs: Int
  public var heldOutPairs: Int
  public var heldOutAccuracy: Float
  public var previousHeldOutAccuracy: Float
  public var adopted: Bool
  /// Why it was (not) adopted.
  public var reason: String

  public init(
    version: String,
    parent: String,
    trainPairs: Int,
    heldOutPairs: Int,
    heldOutAccuracy: Float,
    previousHeldOutAccuracy: Float,
    adopted: Bool,
    reason: String
  ) {
    self.version = version
    self.parent = parent
    self.trainPairs = trainPairs
    self.heldOutPairs = heldOutPairs
    self.heldOutAccuracy = heldOutAccuracy
    self.previousHeldOutAccuracy = previousHeldOutAccuracy
    self.adopted = adopted
    self.reason = reason
  }
}

/// Something the trainer did.
public enum TrainerEventKind: Sendable, Equatable {
  /// A status snapshot (on request, and on every state change).
  case status(TrainerStatus)
  /// Rollouts of step `step`: `done` of `total`.
  case rollouts(step: UInt64, done: Int, total: Int)
  case rewardModelUpdated(RewardModelUpdateReport)
  case step(TrainerStepReport)
  /// A version was published from step `step`; `promoted` if the guard promoted it at once.
  case published(version: String, parent: String, step: UInt64, promoted: Bool)
  /// The guard moved the promoted version (`rolledBack` false: a promotion).
  case promotionChanged(from: String, to: String, rolledBack: Bool, reason: String)
  /// A checkpoint was written atomically.
  case checkpointSaved(id: String, path: String, policyVersion: String)
}

/// One event, numbered from 1 within a daemon run.
public struct TrainerEvent: Sendable, Equatable {
  public var sequence: UInt64
  public var timeUnixMs: Int64
  public var kind: TrainerEventKind

  public init(sequence: UInt64, timeUnixMs: Int64, kind: TrainerEventKind) {
    self.sequence = sequence
    self.timeUnixMs = timeUnixMs
    self.kind = kind
  }
}

/// The trainer as the services see it.
public protocol TrainerControl: Sendable {
  /// The current snapshot.
  func status() -> TrainerStatus
  /// Pauses between micro-batches (the step in flight stops at the next one); idempotent.
  func pause(reason: String) async throws(BackendError) -> TrainerStatus
  /// Resumes a paused trainer; FAILED_PRECONDITION when training is disabled or failed.
  func resume() async throws(BackendError) -> TrainerStatus
  /// Events from now on (the first is a status snapshot when `initialStatus`), until the
  /// trainer stops or the consumer stops iterating.
  func events(initialStatus: Bool) -> AsyncStream<TrainerEvent>
}
