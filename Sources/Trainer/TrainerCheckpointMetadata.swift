// What a trainer checkpoint records beside the tensors (JSON in the checkpoint file and in the
// store's row): the run's counters, the version it started from, the guard's and the reward
// model's held-out sets, the preference-prompt cursor, the versions it published. (Sampling
// seeds derive from the settings' seed and the step: no generator state.)

struct TrainerCheckpointMetadata: Codable, Sendable, Equatable {
  /// A published version and what the guard measured when it was published.
  struct Published: Codable, Sendable, Equatable {
    var id: String
    var step: Int
    /// Mean per-sequence KL to the reference of the step that produced it (nats).
    var kl: Double
    var heldOutReward: Double?
  }

  /// The reference version's held-out reward under one reward-model version.
  struct Baseline: Codable, Sendable, Equatable {
    var rewardModelVersion: String
    /// How many held-out prompts it was measured on.
    var prompts: Int
    var reward: Double
  }

  var runID: String
  var ppoSteps = 0
  var rewardModelUpdates = 0
  /// The policy version the run started from: PPO's reference.
  var referenceVersion: String
  /// RL prompts kept out of training for the guard's held-out reward.
  var guardPromptIDs: [String] = []
  /// Preferences kept out of reward-model training for its held-out accuracy.
  var heldOutPreferenceIDs: [String] = []
  /// The row of the last stored preference whose prompt a rollout batch took or passed over
  /// (nil: none yet): the next batch reads preferences after it.
  var preferencePromptRow: Int64?
  var published: [Published] = []
  var baseline: Baseline?
}
