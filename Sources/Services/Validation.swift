// Checks of request fields that need no model: each failure is INVALID_ARGUMENT with a message
// that names the field and says what was wrong. Later issues add the model-dependent checks
// (prompt length against the context, unknown versions and image hashes).
import API
import GRPCCore

/// Limits of what a request may ask for, independent of the model.
public struct RequestLimits: Sendable {
  public var maxNewTokens: Int32 = 4096
  public var maxImagesPerRequest = 4
  public var maxStopStrings = 8
  public var maxStopStringBytes = 256
  public var maxResponsesPerScore = 64
  public var maxPromptsPerBatch = 256

  public init() {}
}

enum Validation {
  static func invalid(_ message: String) -> RPCError {
    RPCError(code: .invalidArgument, message: message)
  }

  static func check(_ request: Rlhfd_V1_GenerateRequest, limits: RequestLimits) throws(RPCError) {
    if request.prompt.allSatisfy(\.isWhitespace) { throw invalid("prompt is empty") }
    if request.images.count > limits.maxImagesPerRequest {
      throw invalid(
        "images: \(request.images.count) given, at most \(limits.maxImagesPerRequest) allowed"
      )
    }
    for (index, image) in request.images.enumerated() {
      try check(image, field: "images[\(index)]")
    }
    try check(request.sampling, limits: limits)
    try check(request.priority, field: "priority")
  }

  static func check(_ priority: Rlhfd_V1_Priority, field: String) throws(RPCError) {
    if case .UNRECOGNIZED(let value) = priority {
      throw invalid(
        "\(field) \(value) is unknown: use PRIORITY_INTERACTIVE (0) or PRIORITY_BATCH (1)"
      )
    }
  }

  static func check(_ image: Rlhfd_V1_Image, field: String) throws(RPCError) {
    switch image.source {
    case .none: throw invalid("\(field): set either data (PNG/JPEG bytes) or sha256")
    case .data(let data) where data.isEmpty: throw invalid("\(field).data is empty")
    case .sha256(let hash) where !isSHA256(hash):
      throw invalid("\(field).sha256 must be 64 lowercase hex digits, got '\(hash.prefix(80))'")
    default: return
    }
  }

  static func isSHA256(_ text: String) -> Bool {
    text.utf8.count == 64
      && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
  }

  static func check(_ sampling: Rlhfd_V1_SamplingParams, limits: RequestLimits) throws(RPCError) {
    if sampling.hasMaxNewTokens
      && !(1...limits.maxNewTokens).contains(sampling.maxNewTokens)
    {
      throw invalid(
        "sampling.max_new_tokens must be between 1 and \(limits.maxNewTokens), got \(sampling.maxNewTokens)"
      )
    }
    if !sampling.temperature.isFinite || sampling.temperature < 0 {
      throw invalid(
        "sampling.temperature must be a finite number >= 0, got \(sampling.temperature)"
      )
    }
    if !sampling.topP.isFinite || sampling.topP < 0 || sampling.topP > 1 {
      throw invalid("sampling.top_p must be in (0, 1] (0 = disabled), got \(sampling.topP)")
    }
    let penalty = sampling.repetitionPenalty
    if !penalty.isFinite || (penalty != 0 && penalty < 1) {
      throw invalid("sampling.repetition_penalty must be >= 1 (0 = disabled), got \(penalty)")
    }
    if sampling.stop.count > limits.maxStopStrings {
      throw invalid(
        "sampling.stop: \(sampling.stop.count) strings given, at most \(limits.maxStopStrings) allowed"
      )
    }
    for (index, stop) in sampling.stop.enumerated() {
      if stop.isEmpty { throw invalid("sampling.stop[\(index)] is empty") }
      if stop.utf8.count > limits.maxStopStringBytes {
        throw invalid("sampling.stop[\(index)] is longer than \(limits.maxStopStringBytes) bytes")
      }
    }
  }

  static func check(_ facts: Rlhfd_V1_Facts, field: String) throws(RPCError) {
    if facts.hasCorrectChoice && facts.correctChoice != -1 {
      guard (0..<Int32(facts.choices.count)).contains(facts.correctChoice) else {
        throw invalid(
          "\(field).correct_choice \(facts.correctChoice) is not an index into its \(facts.choices.count) choices"
        )
      }
    }
    if let index = facts.captions.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) {
      throw invalid("\(field).captions[\(index)] is empty")
    }
  }
}
