// rlhfd.v1.Policy: validates requests, converts them to native types and runs them on the
// `PolicyBackend`; without a backend (a daemon started with no model) answers UNIMPLEMENTED.
import API
import GRPCCore
import ServingTypes
import SwiftProtobuf

struct PolicyService: Rlhfd_V1_Policy.SimpleServiceProtocol {
  let limits: RequestLimits
  let backend: (any PolicyBackend)?
  /// The client's deadline of a call, as the transport knows it.
  var deadline: @Sendable (ServerContext) -> ContinuousClock.Instant? = { _ in nil }

  func generate(
    request: Rlhfd_V1_GenerateRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_GenerateResponse {
    try Validation.check(request, limits: self.limits)
    guard let backend else {
      throw NotBuilt.error("Policy.Generate", needs: "model loaded (started with --no-model)")
    }
    do {
      for try await event in backend.generate(Self.native(request, deadline: deadline(context))) {
        if case .finished(let result) = event { return Self.response(result) }
      }
      try Task.checkCancellation()
      throw RPCError(code: .internalError, message: "generation ended without a result")
    } catch {
      throw Self.rpcError(error)
    }
  }

  func generateStream(
    request: Rlhfd_V1_GenerateRequest,
    response: RPCWriter<Rlhfd_V1_GenerateChunk>,
    context: ServerContext
  ) async throws {
    try Validation.check(request, limits: self.limits)
    guard let backend else {
      throw NotBuilt.error("Policy.GenerateStream", needs: "model loaded (started with --no-model)")
    }
    do {
      for try await event in backend.generate(Self.native(request, deadline: deadline(context))) {
        var chunk = Rlhfd_V1_GenerateChunk()
        switch event {
        case .delta(let text, let tokenIds, let logprobs):
          chunk.text = text
          chunk.tokenIds = tokenIds.map { UInt32(bitPattern: $0) }
          chunk.logprobs = Self.logprobs(tokenIds, logprobs)
        case .finished(let result):
          chunk.final = Self.response(result)
        }
        try await response.write(chunk)
        if chunk.hasFinal { return }
      }
      try Task.checkCancellation()
      throw RPCError(code: .internalError, message: "generation ended without a result")
    } catch {
      throw Self.rpcError(error)
    }
  }

  static func native(
    _ request: Rlhfd_V1_GenerateRequest,
    deadline: ContinuousClock.Instant? = nil
  ) -> GenerationRequest {
    var native = GenerationRequest(prompt: request.prompt)
    native.priority = Self.priority(request.priority)
    native.deadline = deadline
    native.rawPrompt = request.rawPrompt
    native.policyVersion = request.policyVersion
    native.images = request.images.map { image in
      switch image.source {
      case .sha256(let hash): .sha256(hash)
      case .data(let data): .data([UInt8](data))
      case .none: .data([])  // rejected by validation
      }
    }
    let s = request.sampling
    var sampling = GenerationSampling()
    sampling.maxNewTokens = s.hasMaxNewTokens ? Int(s.maxNewTokens) : nil
    sampling.temperature = s.temperature
    sampling.topK = Int(s.topK)
    sampling.topP = s.topP == 0 ? 1 : s.topP
    sampling.repetitionPenalty = s.repetitionPenalty == 0 ? 1 : s.repetitionPenalty
    sampling.stop = s.stop
    sampling.seed = s.hasSeed ? s.seed : nil
    sampling.logprobs = s.logprobs
    native.sampling = sampling
    return native
  }

  static func priority(_ priority: Rlhfd_V1_Priority) -> RequestPriority {
    priority == .batch ? .batch : .interactive
  }

  static func logprobs(_ tokens: [Int32], _ values: [Float]?) -> [Rlhfd_V1_TokenLogprob] {
    guard let values else { return [] }
    return zip(tokens, values).map { token, value in
      var entry = Rlhfd_V1_TokenLogprob()
      entry.tokenID = UInt32(bitPattern: token)
      entry.logprob = value
      return entry
    }
  }

  static func response(_ result: GenerationResult) -> Rlhfd_V1_GenerateResponse {
    var response = Rlhfd_V1_GenerateResponse()
    response.text = result.text
    response.tokenIds = result.tokenIds.map { UInt32(bitPattern: $0) }
    response.logprobs = logprobs(result.tokenIds, result.logprobs)
    response.finishReason =
      switch result.finishReason {
      case .length: .length
      case .stop: .stop
      case .eos: .eos
      }
    response.policyVersion = result.policyVersion
    response.generationID = result.generationId
    var usage = Rlhfd_V1_Usage()
    usage.promptTokens = UInt32(clamping: result.promptTokens)
    usage.completionTokens = UInt32(clamping: result.tokenIds.count)
    usage.queueTimeMs = result.queueTimeMs
    usage.computeTimeMs = result.computeTimeMs
    response.usage = usage
    return response
  }

  static func rpcError(_ error: any Error) -> RPCError {
    switch error {
    case let error as RPCError: return error
    case let error as BackendError:
      let code: RPCError.Code =
        switch error.code {
        case .invalidArgument: .invalidArgument
        case .notFound: .notFound
        case .resourceExhausted: .resourceExhausted
        case .unavailable: .unavailable
        case .deadlineExceeded: .deadlineExceeded
        case .internalError: .internalError
        case .alreadyExists: .alreadyExists
        case .failedPrecondition: .failedPrecondition
        }
      return RPCError(code: code, message: error.message)
    case is CancellationError:
      return RPCError(code: .cancelled, message: "the call ended; generation stopped")
    default:
      return RPCError(code: .internalError, message: "generation failed: \(error)")
    }
  }
}
