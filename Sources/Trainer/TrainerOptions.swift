// How the trainer shares the machine and keeps its state: the lane's knobs beside the training
// method's (`TrainerSettings`). The daemon's `training:` configuration section maps to these.
public import Training

/// Everything the trainer loop is configured with.
public struct TrainerOptions: Sendable, Equatable {
  /// The method: PPO, reward-model updates, publishing and the guard.
  public var settings: TrainerSettings
  /// Share of the machine training may take while interactive requests wait (0 < share ≤ 1):
  /// after a micro-batch that took d, training waits up to d · (1 − share) / share for the
  /// interactive queue to drain before the next one.
  public var computeShare: Double = 0.25
  /// Nice value of the training threads (the trainer's pthread and its own kernel pool; 0–19):
  /// when serving and training both want a core, the kernel gives it to serving at once (nice
  /// 19 weighs 15 against serving's 1024), so a request arriving in the middle of a micro-batch
  /// does not share the cores with it. The trainer then runs on the cycles serving leaves.
  public var niceness = 19
  /// Threads of the trainer's kernel pool (its products included: OpenBLAS runs single-threaded
  /// inside the engine's pools); 0 = one per core, at most two.
  public var computeThreads = 0
  /// Write a checkpoint (and mark the feedback it used consumed) every this many PPO steps; a
  /// reward-model update is checkpointed when it ends.
  public var checkpointEvery = 1
  /// Checkpoints kept on disk (older ones are deleted after a newer one is committed).
  public var keepCheckpoints = 3
  /// Held-out RL prompts the guard samples for the held-out reward (0 = the guard checks KL only).
  public var guardPrompts = 8
  /// Share of RL prompts (by id) kept out of training for the guard.
  public var guardPromptFraction = 0.1
  /// Fill rollout batches with stored preferences' prompts when the unconsumed RL prompts do not
  /// (`RolloutBatch`): each preference once per run, never the guard's held-out prompts.
  public var preferencePrompts = true
  /// Seconds between looks at the store while idle.
  public var idlePollSeconds = 1.0
  /// Start paused (an operator resumes with ResumeTraining).
  public var startPaused = false
  /// Keep transposed panel copies of the policy's, the value model's and (during an update) the
  /// reward model's linears for the backward (`DecoderTraining(transposedWeights:)`: only where
  /// the forward runs on bf16 panels: split ones for fp32 on an AMX host, plain ones with
  /// `precision: bf16`; 2× the linears' bf16 bytes per model). A PPO step on TinyLlama shapes in
  /// fp32: backward 97.7 → 68.4 s per 1k response tokens.
  public var transposedWeights = true

  public init(settings: TrainerSettings = .small) {
    self.settings = settings
  }

  /// Every problem, with the configuration's field names.
  public func validate() -> [SettingsError] {
    var errors = settings.validate()
    func check(_ ok: Bool, _ field: String, _ message: String) {
      if !ok { errors.append(SettingsError(field: field, message: message)) }
    }
    check(computeShare > 0 && computeShare <= 1, "compute_share", "must be in (0, 1]")
    check(niceness >= 0 && niceness <= 19, "nice", "must be in [0, 19]")
    check(computeThreads >= 0 && computeThreads <= 64, "compute_threads", "must be in [0, 64]")
    check(checkpointEvery > 0, "checkpoint_every", "must be > 0")
    check(keepCheckpoints > 0, "keep_checkpoints", "must be > 0")
    check(guardPrompts >= 0, "guard_prompts", "must be >= 0")
    check(
      guardPromptFraction >= 0 && guardPromptFraction < 1,
      "guard_prompt_fraction",
      "must be in [0, 1)"
    )
    check(idlePollSeconds > 0 && idlePollSeconds <= 60, "idle_poll_seconds", "must be in (0, 60]")
    return errors
  }
}
