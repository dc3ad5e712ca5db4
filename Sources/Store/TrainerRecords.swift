// What the online trainer keeps in the store, in the store's own types (it knows nothing of
// models or training): ratings with the generations they rate, the trainer's checkpoints (a
// file the trainer writes, recorded here with the feedback it consumed) and the reward-model
// versions it trained.

/// A stored rating and the generation it rates.
public struct StoredRating: Sendable, Equatable {
  public var id: String
  public var generationID: String
  /// In [-1, 1].
  public var score: Float
  public var hallucinated: Bool?
  public var createdUnixMs: Int64
  public var consumed: Bool
  /// Nil when the generation is not stored. Retention never prunes a generation a rating names
  /// (and SQLite's foreign key refuses it), so only a database edited by hand has such ratings:
  /// they are returned, not skipped, so that the trainer can mark them consumed and move on.
  public var generation: RatedGenerationRecord?

  public init(
    id: String,
    generationID: String,
    score: Float,
    hallucinated: Bool?,
    createdUnixMs: Int64,
    consumed: Bool,
    generation: RatedGenerationRecord?
  ) {
    self.id = id
    self.generationID = generationID
    self.score = score
    self.hallucinated = hallucinated
    self.createdUnixMs = createdUnixMs
    self.consumed = consumed
    self.generation = generation
  }
}

/// What a rating's generation was: its request and answer (`GenerationRecord` without the
/// sampling, timings and log-probabilities).
public struct RatedGenerationRecord: Sendable, Equatable {
  public var policyVersion: String
  public var prompt: String
  public var rawPrompt: Bool
  public var template: String
  /// By hash (`.sha256`), in order.
  public var images: [ImageRef]
  /// The generated tokens.
  public var tokenIds: [Int32]
  public var text: String

  public init(
    policyVersion: String,
    prompt: String,
    rawPrompt: Bool,
    template: String,
    images: [ImageRef],
    tokenIds: [Int32],
    text: String
  ) {
    self.policyVersion = policyVersion
    self.prompt = prompt
    self.rawPrompt = rawPrompt
    self.template = template
    self.images = images
    self.tokenIds = tokenIds
    self.text = text
  }
}

/// One trainer checkpoint: where its file is and what it was taken from.
public struct TrainerCheckpointRecord: Sendable, Equatable {
  /// The store's order of checkpoints (increasing, never reused); assigned when committed
  /// (`commitTrainerCheckpoint` ignores the value given).
  public var seq: Int64
  public var id: String
  public var step: Int
  /// The checkpoint file (or directory), written and synced by the trainer before the commit.
  public var path: String
  /// Lowercase hex SHA-256 of the file, as the trainer computes it (checked on resume).
  public var sha256: String
  public var policyVersion: String
  public var rewardModelVersion: String
  public var createdUnixMs: Int64
  /// The trainer's JSON, opaque to the store.
  public var metadata: String

  public init(
    id: String,
    step: Int,
    path: String,
    sha256: String,
    policyVersion: String,
    rewardModelVersion: String,
    createdUnixMs: Int64,
    metadata: String = "{}",
    seq: Int64 = 0
  ) {
    self.seq = seq
    self.id = id
    self.step = step
    self.path = path
    self.sha256 = sha256
    self.policyVersion = policyVersion
    self.rewardModelVersion = rewardModelVersion
    self.createdUnixMs = createdUnixMs
    self.metadata = metadata
  }
}

/// One trained reward-model version, adopted or not (every update is recorded).
public struct RewardModelVersionRecord: Sendable, Equatable {
  public var id: String
  /// The version it was trained from ("" for the base reward model).
  public var parent: String
  /// The adapter directory (nil for none, e.g. a version that was not kept).
  public var adapterPath: String?
  /// Pairwise accuracy on the held-out split (nil when there was none).
  public var heldOutAccuracy: Double?
  public var trainPairs: Int
  /// Whether it replaced its parent for scoring.
  public var adopted: Bool
  /// Why it was adopted or not, for people.
  public var reason: String
  public var createdUnixMs: Int64

  public init(
    id: String,
    parent: String,
    adapterPath: String?,
    heldOutAccuracy: Double?,
    trainPairs: Int,
    adopted: Bool,
    reason: String,
    createdUnixMs: Int64
  ) {
    self.id = id
    self.parent = parent
    self.adapterPath = adapterPath
    self.heldOutAccuracy = heldOutAccuracy
    self.trainPairs = trainPairs
    self.adopted = adopted
    self.reason = reason
    self.createdUnixMs = createdUnixMs
  }
}
