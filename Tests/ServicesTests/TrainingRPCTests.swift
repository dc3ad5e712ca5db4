// GetTrainingStatus, WatchTraining, PauseTraining and ResumeTraining against a trainer (a fake
// with the real event hub): status and events mapped field by field, the initial snapshot,
// pause/resume errors, and the answers of a daemon whose training is off.
import API
import GRPCCore
import Services
import ServingTypes
import SwiftProtobuf
import Synchronization
import Testing

final class FakeTrainer: TrainerControl {
  let hub = TrainerEventHub()
  private let current = Mutex(TrainerStatus(state: .idle, message: "waiting for 16 prompts"))

  func status() -> TrainerStatus { current.withLock { $0 } }

  func pause(reason: String) async throws(BackendError) -> TrainerStatus {
    try change { status throws(BackendError) in
      guard status.state != .failed else { throw BackendError(.failedPrecondition, "failed") }
      status.state = .paused
      status.message = reason
    }
  }

  func resume() async throws(BackendError) -> TrainerStatus {
    try change { status throws(BackendError) in
      guard status.state == .paused else {
        throw BackendError(.failedPrecondition, "the trainer is not paused")
      }
      status.state = .idle
      status.message = ""
    }
  }

  func events(initialStatus: Bool) -> AsyncStream<TrainerEvent> {
    hub.watch(first: initialStatus ? .status(status()) : nil)
  }

  private func change(
    _ body: (inout TrainerStatus) throws(BackendError) -> Void
  ) throws(BackendError) -> TrainerStatus {
    let status = try current.withLock { status throws(BackendError) -> TrainerStatus in
      try body(&status)
      return status
    }
    hub.publish(.status(status))
    return status
  }
}

@Suite struct TrainingRPCTests {
  @Test func statusAndPauseResumeGoThroughTheTrainer() async throws {
    let trainer = FakeTrainer()
    try await withServices(trainer: trainer) { client, _ in
      let feedback = Rlhfd_V1_Feedback.Client(wrapping: client)
      let admin = Rlhfd_V1_Admin.Client(wrapping: client)
      var status = try await feedback.getTrainingStatus(.init())
      #expect(status.state == .idle && status.message == "waiting for 16 prompts")
      let paused = try await admin.pauseTraining(.with { $0.reason = "maintenance" })
      #expect(paused.status.state == .paused && paused.status.message == "maintenance")
      status = try await feedback.getTrainingStatus(.init())
      #expect(status.state == .paused)
      let resumed = try await admin.resumeTraining(.init())
      #expect(resumed.status.state == .idle)
      let again = await rpcError { _ = try await admin.resumeTraining(.init()) }
      #expect(again?.code == .failedPrecondition)
      #expect(again?.message == "the trainer is not paused")
      let long = await rpcError {
        _ = try await admin.pauseTraining(.with { $0.reason = String(repeating: "x", count: 1025) })
      }
      #expect(long?.code == .invalidArgument)
    }
  }

  @Test func watchStreamsTheInitialStatusThenEveryEventInOrder() async throws {
    let trainer = FakeTrainer()
    try await withServices(trainer: trainer) { client, _ in
      let feedback = Rlhfd_V1_Feedback.Client(wrapping: client)
      let events = try await feedback.watchTraining(.with { $0.sendInitialStatus = true }) {
        response in
        var seen: [Rlhfd_V1_TrainingEvent] = []
        for try await event in response.messages {
          seen.append(event)
          if seen.count == 1 {  // subscribed: the trainer now publishes
            var report = TrainerStepReport(step: 3)
            report.rollouts = 16
            report.rewardMean = 1.5
            report.clipFraction = 0.25
            report.seconds = 2
            trainer.hub.publish(.rollouts(step: 3, done: 8, total: 16))
            trainer.hub.publish(.step(report))
            trainer.hub.publish(
              .published(version: "ppo-3", parent: "base", step: 3, promoted: true)
            )
            trainer.hub.publish(
              .promotionChanged(from: "ppo-3", to: "base", rolledBack: true, reason: "kl 7 > 5")
            )
          }
          if seen.count == 5 { break }
        }
        return seen
      }
      #expect(events.count == 5)
      #expect(events[0].status.state == .idle && events[0].sequence == 0)
      #expect(events.dropFirst().map(\.sequence) == [1, 2, 3, 4])
      #expect(events[1].rollouts.done == 8 && events[1].rollouts.total == 16)
      #expect(events[2].step.step == 3 && events[2].step.rollouts == 16)
      #expect(events[2].step.meanReward == 1.5 && events[2].step.clipFraction == 0.25)
      #expect(events[2].step.stepTimeMs == 2000)
      #expect(
        events[3].policyPublished.policyVersion == "ppo-3" && events[3].policyPublished.promoted
      )
      #expect(
        events[4].promotionChanged.rolledBack && events[4].promotionChanged.reason == "kl 7 > 5"
      )
    }
    // The in-process transport does not tell the server that the client stopped reading, but
    // the server's shutdown cancels the RPC: the watch ends and unsubscribes (no hang).
    #expect(trainer.hub.watcherCount == 0)
  }

  @Test func withoutATrainerControlIsUnimplemented() async throws {
    try await withServices { client, _ in
      let admin = Rlhfd_V1_Admin.Client(wrapping: client)
      let feedback = Rlhfd_V1_Feedback.Client(wrapping: client)
      let pause = await rpcError { _ = try await admin.pauseTraining(.init()) }
      #expect(pause?.code == .unimplemented)
      #expect(pause?.message.contains("trainer") == true)
      let watch = await rpcError {
        try await feedback.watchTraining(.init()) { response in
          for try await _ in response.messages {}
        }
      }
      #expect(watch?.code == .unimplemented)
    }
  }

  @Test func theHubNumbersEventsAndEndsEveryWatch() async {
    let hub = TrainerEventHub(capacity: 2)
    let early = hub.watch()
    hub.publish(.rollouts(step: 1, done: 0, total: 4))
    hub.publish(.rollouts(step: 1, done: 2, total: 4))
    hub.publish(.rollouts(step: 1, done: 4, total: 4))  // the slow watcher keeps the newest 2
    hub.finish()
    var sequences: [UInt64] = []
    for await event in early { sequences.append(event.sequence) }
    #expect(sequences == [2, 3])
    var late = 0
    for await _ in hub.watch(first: .status(TrainerStatus(state: .idle))) { late += 1 }
    #expect(late == 0, "a watch after finish() ends at once")
  }
}
