// The trainer's working state inside `TrainerLoop.run` (one task: nothing here is shared): the
// models, the run's metadata, the feedback used since the last checkpoint, and the main loop.
import Checkpoints
import Engine
import Foundation
import Logging
import Metrics
import Models
import Serving
import ServingTypes
import Store
import StoreMapping
import Tokenizer
import Training

final class TrainerRun {
  let loop: TrainerLoop
  var options: TrainerOptions { loop.options }
  var settings: TrainerSettings { loop.options.settings }
  var store: SQLiteFeedbackStore { loop.store }
  var logger: Logger { loop.logger }
  var gate: TrainerGate { loop.gate }

  var policy: ModelRunner!
  var reward: RewardRunner!
  var ppo: PPORun!
  var meta: TrainerCheckpointMetadata!
  /// The internal version the next rollouts run on (the live policy LoRA).
  var liveVersion = ""
  /// Feedback used since the last checkpoint: marked consumed with the next one.
  var pending = PendingFeedback()
  /// The reward-model version the value model and the guard's baseline use.
  var rewardModelVersion = ""

  init(loop: TrainerLoop) { self.loop = loop }

  var eos: Int32 {
    Int32(truncatingIfNeeded: policy.model.weights.config.text.eosTokenIds.first ?? 2)
  }

  func run() async throws {
    while true {
      try checkStopping()
      if let r = loop.runners() {
        (policy, reward) = (r.policy, r.reward)
        break
      }
      try await Task.sleep(for: .milliseconds(200))
    }
    try await start()
    // The pending counts when the last rounds found nothing to do: while they stay the same,
    // nothing new is stored and the rounds' reads (thousands of rows) are skipped; every
    // `idleRecheck` they run anyway (retention may delete as many rows as were added).
    var idle: (counts: PendingCounts, since: ContinuousClock.Instant)?
    while true {
      try checkStopping()
      if gate.isPaused {
        loop.metrics.paused.record(1)
        try await Task.sleep(for: .milliseconds(100))
        continue
      }
      loop.metrics.paused.record(0)
      let counts = try? store.pendingCounts()
      if let idle, counts == idle.counts, ContinuousClock.now - idle.since < Self.idleRecheck {
        try await Task.sleep(for: .seconds(options.idlePollSeconds))
        continue
      }
      var worked = try await rewardModelRound()
      if try await ppoRound() { worked = true }
      if worked {
        idle = nil
      } else {
        idle = counts.map { ($0, ContinuousClock.now) }
        loop.update { s in
          if s.state == .running { s.state = .idle }
          s.message = idleMessage(counts)
        }
        try await Task.sleep(for: .seconds(options.idlePollSeconds))
      }
    }
  }

  /// How long an idle trainer trusts unchanged pending counts before it reads the feedback again.
  static let idleRecheck = Duration.seconds(30)

  func checkStopping() throws(TrainerStopped) {
    if gate.isStopping { throw TrainerStopped() }
  }

  func running(_ message: String) {
    loop.update { s in
      s.state = .running
      s.message = message
    }
  }

  private func idleMessage(_ counts: PendingCounts?) -> String {
    let rollout = settings.ppo.rolloutBatchSize
    let pairs = settings.rewardModel.minimumPairs
    return
      "waiting for feedback: \(counts?.prompts ?? 0) RL prompts (a step needs \(rollout)), "
      + "\(counts?.preferences ?? 0) preferences (an update needs \(pairs) training pairs)"
  }

  /// Sampling seeds of step `step`'s rollouts (the settings' seed, the step, the row).
  func seeds(step: Int, count: Int, salt: UInt64 = 0) -> [UInt64] {
    (0..<count).map { i in
      var h = settings.seed ^ salt ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15) &+ UInt64(i)
      h ^= h >> 31
      return h &* 0xBF58_476D_1CE4_E5B9
    }
  }

  /// Milliseconds since the epoch.
  static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

  /// A short random hex suffix for ids.
  static func suffix() -> String {
    String(UInt32.random(in: 0...UInt32.max), radix: 16)
  }
}

/// Feedback a run has used and not yet checkpointed.
struct PendingFeedback: Sendable, Equatable {
  var prompts: [String] = []
  var preferences: [String] = []
  var ratings: [String] = []
}

/// A trainer error with a message (the status's message when the trainer stops).
struct TrainerFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
