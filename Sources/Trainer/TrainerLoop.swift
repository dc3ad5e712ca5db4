// The trainer as a long-lived worker of the daemon's service group (issue 13 items 3–7): it
// waits for the models, resumes from its last checkpoint, then loops — a reward-model update
// when enough new preferences are stored, a PPO step when a rollout batch of RL prompts is —
// publishing versions behind the guard and checkpointing with the feedback it consumed. The
// services see it as a `TrainerControl` (status, pause / resume, events); the compute runs on
// its own thread behind `TrainerGate`, which yields to interactive requests.
import Checkpoints
import Engine
import Foundation
public import Logging
import Metrics
import Models
public import ServiceLifecycle
public import Serving
public import ServingTypes
public import Store
import StoreMapping
import Synchronization
import Tokenizer
import Training

public final class TrainerLoop: Service, TrainerControl, Sendable {
  /// The runners once the models are loaded (nil before).
  public typealias Runners = @Sendable () -> (policy: ModelRunner, reward: RewardRunner)?

  let options: TrainerOptions
  let store: SQLiteFeedbackStore
  let runners: Runners
  /// Checkpoints and published adapters go below this directory.
  let directory: String
  let logger: Logger
  let hub: TrainerEventHub
  let gate: TrainerGate
  /// The training threads' pool and priority (`TrainingThread.run(on:)`).
  let compute: TrainerCompute
  let metrics = TrainerMetrics()
  private let snapshot: Mutex<TrainerStatus>

  public init(
    options: TrainerOptions,
    store: SQLiteFeedbackStore,
    directory: String,
    logger: Logger,
    runners: @escaping Runners
  ) {
    self.options = options
    self.store = store
    self.runners = runners
    self.directory = directory
    self.logger = logger
    self.hub = TrainerEventHub()
    let runnersNow = runners
    self.compute = TrainerCompute(threads: options.computeThreads, niceness: options.niceness)
    self.gate = TrainerGate(
      paused: options.startPaused,
      computeShare: options.computeShare,
      demand: {
        guard let r = runnersNow() else { return 0 }
        return r.policy.interactiveDemand + r.reward.interactiveDemand
      }
    )
    var initial = TrainerStatus(state: options.startPaused ? .paused : .idle)
    initial.message =
      options.startPaused
      ? "paused at start-up (training.start_paused)" : "starting: waiting for the models to load"
    // The step the last checkpoint reached, before the models load (the run resumes there).
    if let record = try? store.latestTrainerCheckpoint() {
      initial.step = UInt64(max(0, record.step))
      initial.rewardModelVersion = record.rewardModelVersion
    }
    self.snapshot = Mutex(initial)
  }

  // MARK: - Service

  public func run() async throws {
    await withGracefulShutdownHandler {
      do {
        try await TrainerRun(loop: self).run()
      } catch {
        // Anything that ends the run once the daemon stops is the stop itself.
        if !gate.isStopping && !(error is CancellationError) { fail("\(error)") }
      }
    } onGracefulShutdown: {
      self.gate.stop()
    }
    hub.finish()
  }

  // MARK: - TrainerControl

  public func status() -> TrainerStatus { snapshot.withLock { $0 } }

  public func pause(reason: String) async throws(BackendError) -> TrainerStatus {
    let current = status()
    if current.state == .failed {
      throw BackendError(.failedPrecondition, "training failed: \(current.message)")
    }
    if gate.pause(reason: reason) {
      logger.notice("training paused", metadata: ["reason": .string(reason)])
      update { s in
        s.state = .paused
        s.message = reason.isEmpty ? "paused by an operator" : reason
      }
    }
    return status()
  }

  public func resume() async throws(BackendError) -> TrainerStatus {
    let current = status()
    if current.state == .failed {
      throw BackendError(
        .failedPrecondition,
        "training failed and cannot resume: \(current.message) (restart the daemon)"
      )
    }
    if gate.resume() {
      logger.notice("training resumed")
      update { s in
        s.state = .idle
        s.message = ""
      }
    }
    return status()
  }

  public func events(initialStatus: Bool) -> AsyncStream<TrainerEvent> {
    hub.watch(first: initialStatus ? .status(status()) : nil)
  }

  // MARK: - For the run

  /// Changes the snapshot and publishes it when its state or message changed.
  func update(_ change: (inout TrainerStatus) -> Void) {
    let (before, after) = snapshot.withLock { s in
      let before = s
      change(&s)
      if gate.isPaused && s.state != .failed { s.state = .paused }
      return (before, s)
    }
    if before.state != after.state || before.message != after.message {
      _ = hub.publish(.status(after))
    }
  }

  func publish(_ kind: TrainerEventKind) { _ = hub.publish(kind) }

  func fail(_ message: String) {
    logger.error("training stopped after an error", metadata: ["error": .string(message)])
    update { s in
      s.state = .failed
      s.message = message
    }
  }
}
