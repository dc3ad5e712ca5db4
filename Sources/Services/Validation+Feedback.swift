// Field checks for Reward and Feedback requests (see Validation.swift).
import API
import GRPCCore

extension Validation {
  static func check(_ request: Rlhfd_V1_ScoreRequest, limits: RequestLimits) throws(RPCError) {
    let candidates = request.responses.count + request.generationIds.count
    if candidates == 0 { throw invalid("give at least one response or generation id to score") }
    if !request.responses.isEmpty && !request.generationIds.isEmpty {
      throw invalid("give either responses or generation_ids, not both")
    }
    if candidates > limits.maxResponsesPerScore {
      throw invalid(
        "\(candidates) candidates given, at most \(limits.maxResponsesPerScore) per Score"
      )
    }
    if request.generationIds.isEmpty {
      if request.prompt.allSatisfy(\.isWhitespace) { throw invalid("prompt is empty") }
      if !request.hasImage { throw invalid("image is required when scoring responses by text") }
    }
    if request.hasImage { try check(request.image, field: "image") }
    if let index = request.generationIds.firstIndex(where: \.isEmpty) {
      throw invalid("generation_ids[\(index)] is empty")
    }
    if request.hasFacts { try check(request.facts, field: "facts") }
    try check(request.priority, field: "priority")
  }

  static func check(_ feedback: Rlhfd_V1_PreferenceFeedback) throws(RPCError) {
    if !feedback.hasImage { throw invalid("image is required") }
    try check(feedback.image, field: "image")
    let first = try text(
      of: feedback.response1,
      present: feedback.hasResponse1,
      field: "response_1"
    )
    let second = try text(
      of: feedback.response2,
      present: feedback.hasResponse2,
      field: "response_2"
    )
    if (first != nil || second != nil) && feedback.prompt.allSatisfy(\.isWhitespace) {
      throw invalid("prompt is required when a response is given as text")
    }
    if feedback.preferred != 1 && feedback.preferred != 2 {
      throw invalid("preferred must be 1 or 2, got \(feedback.preferred)")
    }
    if feedback.hasFacts { try check(feedback.facts, field: "facts") }
    try checkIdempotencyKey(feedback.idempotencyKey)
  }

  /// The text of a response given as text, nil when it is a generation id.
  private static func text(
    of reference: Rlhfd_V1_ResponseRef,
    present: Bool,
    field: String
  ) throws(RPCError) -> String? {
    switch present ? reference.source : nil {
    case .none: throw invalid("\(field): set either text or generation_id")
    case .text(let text):
      if text.allSatisfy(\.isWhitespace) { throw invalid("\(field).text is empty") }
      return text
    case .generationID(let id):
      if id.isEmpty { throw invalid("\(field).generation_id is empty") }
      return nil
    }
  }

  static func check(_ batch: Rlhfd_V1_PromptBatch, limits: RequestLimits) throws(RPCError) {
    if batch.prompts.isEmpty { throw invalid("prompts is empty") }
    if batch.prompts.count > limits.maxPromptsPerBatch {
      throw invalid(
        "prompts: \(batch.prompts.count) given, at most \(limits.maxPromptsPerBatch) per SubmitPrompts"
      )
    }
    for (index, prompt) in batch.prompts.enumerated() {
      let field = "prompts[\(index)]"
      if !prompt.hasImage { throw invalid("\(field).image is required") }
      try check(prompt.image, field: "\(field).image")
      if prompt.prompt.allSatisfy(\.isWhitespace) { throw invalid("\(field).prompt is empty") }
      if prompt.hasLengthBonus && !prompt.lengthBonus.isFinite {
        throw invalid("\(field).length_bonus must be a finite number")
      }
      if prompt.clientID.utf8.count > 128 {
        throw invalid("\(field).client_id is longer than 128 bytes")
      }
      if prompt.hasFacts { try check(prompt.facts, field: "\(field).facts") }
    }
    try checkIdempotencyKey(batch.idempotencyKey)
  }

  static func check(_ rating: Rlhfd_V1_RatingFeedback) throws(RPCError) {
    if rating.generationID.isEmpty { throw invalid("generation_id is required") }
    if !rating.score.isFinite || rating.score < -1 || rating.score > 1 {
      throw invalid("score must be in [-1, 1], got \(rating.score)")
    }
    try checkIdempotencyKey(rating.idempotencyKey)
  }

  static func checkIdempotencyKey(_ key: String) throws(RPCError) {
    if key.utf8.count > 128 { throw invalid("idempotency_key is longer than 128 bytes") }
  }
}
