// rlhfd.v1.Feedback: validates submissions and stores them; the ack is sent only after the
// store's commit returned (durable). Without a store (a daemon started with `feedback_store:
// none`) every submission is refused with UNIMPLEMENTED, never acked.
import API
import Foundation
import GRPCCore
import ServingTypes
public import Store

/// Checks that bytes are a PNG or JPEG within the image limits, from the header alone, and
/// returns their SHA-256 (lowercase hex); the error says what is wrong.
public typealias ImageProbe = @Sendable ([UInt8]) throws -> String

struct FeedbackService: Rlhfd_V1_Feedback.SimpleServiceProtocol {
  var limits = RequestLimits()
  /// Checks image bytes and hashes them (reading the header only to check).
  var probeImage: ImageProbe?
  var store: (any FeedbackStore)?
  /// The trainer; nil when this daemon has none (GetTrainingStatus says DISABLED).
  var trainer: (any TrainerControl)?
  /// The policy-version registry, for the promoted version in the status.
  var versions: (any PolicyVersionAdmin)?

  func submitPreference(
    request: Rlhfd_V1_PreferenceFeedback,
    context: ServerContext
  ) async throws -> Rlhfd_V1_FeedbackAck {
    let record = try FeedbackIntake.preference(request, probe: probeImage)
    guard let store, let record else {
      throw NotBuilt.error("Feedback.SubmitPreference", needs: "feedback store")
    }
    return try await Self.ack(.preference) { () async throws(StoreError) -> StoreAck in
      try await store.submitPreference(record, idempotencyKey: request.idempotencyKey)
    }
  }

  func submitPrompts(
    request: Rlhfd_V1_PromptBatch,
    context: ServerContext
  ) async throws -> Rlhfd_V1_FeedbackAck {
    let records = try FeedbackIntake.prompts(request, limits: limits, probe: probeImage)
    guard let store, let records else {
      throw NotBuilt.error("Feedback.SubmitPrompts", needs: "feedback store")
    }
    return try await Self.ack(.prompts) { () async throws(StoreError) -> StoreAck in
      try await store.submitPrompts(records, idempotencyKey: request.idempotencyKey)
    }
  }

  func submitRating(
    request: Rlhfd_V1_RatingFeedback,
    context: ServerContext
  ) async throws -> Rlhfd_V1_FeedbackAck {
    let record = try FeedbackIntake.rating(request)
    guard let store else { throw NotBuilt.error("Feedback.SubmitRating", needs: "feedback store") }
    return try await Self.ack(.rating) { () async throws(StoreError) -> StoreAck in
      try await store.submitRating(record, idempotencyKey: request.idempotencyKey)
    }
  }

  func getTrainingStatus(
    request: Rlhfd_V1_TrainingStatusRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_TrainingStatus {
    guard store != nil || trainer != nil else {
      throw NotBuilt.error("Feedback.GetTrainingStatus", needs: "feedback store")
    }
    return try trainingStatus(
      trainer?.status()
        ?? TrainerStatus(
          state: .disabled,
          message: "no trainer in this rlhfd yet: feedback is stored and waits for it"
        )
    )
  }

  func watchTraining(
    request: Rlhfd_V1_WatchTrainingRequest,
    response: RPCWriter<Rlhfd_V1_TrainingEvent>,
    context: ServerContext
  ) async throws {
    guard let trainer else { throw NotBuilt.error("Feedback.WatchTraining", needs: "trainer") }
    let events = trainer.events(initialStatus: request.sendInitialStatus)
    // gRPC signals a cancelled RPC (the client went away, the deadline passed, the server
    // drains) through the context, not by cancelling this task: race the two, and cancelling
    // the events' iteration unsubscribes from the trainer.
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        for await event in events {
          let message = try TrainingMapping.event(event) { status throws(RPCError) in
            try trainingStatus(status)
          }
          try await response.write(message)
        }
      }
      group.addTask { try await context.cancellation.cancelled }
      _ = try await group.next()
      group.cancelAll()
    }
  }

  /// `status` with the store's pending counts and the promoted version.
  func trainingStatus(_ status: TrainerStatus) throws(RPCError) -> Rlhfd_V1_TrainingStatus {
    var message = TrainingMapping.status(status)
    if let store {
      let pending: PendingCounts
      do { pending = try store.pendingCounts() } catch { throw Self.rpcError(error) }
      message.pendingPreferences = UInt64(pending.preferences)
      message.pendingPrompts = UInt64(pending.prompts)
      message.pendingRatings = UInt64(pending.ratings)
    }
    if let versions, let listing = try? versions.list() {
      message.promotedPolicyVersion = listing.promoted
    }
    return message
  }
}
