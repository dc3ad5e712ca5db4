// rlhfd.v1.Feedback: validates submissions. Acknowledging feedback promises durability, so
// until the feedback store exists every submission is refused with UNIMPLEMENTED, never acked.
import API
import GRPCCore

/// Checks that bytes are a PNG or JPEG within the image limits, from the header alone; the error
/// says what is wrong.
public typealias ImageProbe = @Sendable ([UInt8]) throws -> Void

struct FeedbackService: Rlhfd_V1_Feedback.SimpleServiceProtocol {
  var limits = RequestLimits()
  /// Checks that image bytes are an image within the limits (reading the header only).
  var probeImage: ImageProbe?

  func submitPreference(
    request: Rlhfd_V1_PreferenceFeedback,
    context: ServerContext
  ) async throws -> Rlhfd_V1_FeedbackAck {
    try Validation.check(request)
    try Validation.probe(request.image, field: "image", with: probeImage)
    throw NotBuilt.error("Feedback.SubmitPreference", needs: "feedback store")
  }

  func submitPrompts(
    request: Rlhfd_V1_PromptBatch,
    context: ServerContext
  ) async throws -> Rlhfd_V1_FeedbackAck {
    try Validation.check(request, limits: limits)
    for (index, prompt) in request.prompts.enumerated() {
      try Validation.probe(prompt.image, field: "prompts[\(index)].image", with: probeImage)
    }
    throw NotBuilt.error("Feedback.SubmitPrompts", needs: "feedback store")
  }

  func submitRating(
    request: Rlhfd_V1_RatingFeedback,
    context: ServerContext
  ) async throws -> Rlhfd_V1_FeedbackAck {
    try Validation.check(request)
    throw NotBuilt.error("Feedback.SubmitRating", needs: "feedback store")
  }

  func getTrainingStatus(
    request: Rlhfd_V1_TrainingStatusRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_TrainingStatus {
    throw NotBuilt.error("Feedback.GetTrainingStatus", needs: "trainer")
  }

  func watchTraining(
    request: Rlhfd_V1_WatchTrainingRequest,
    response: RPCWriter<Rlhfd_V1_TrainingEvent>,
    context: ServerContext
  ) async throws {
    throw NotBuilt.error("Feedback.WatchTraining", needs: "trainer")
  }
}
