// PolicyService over a fake PolicyBackend: proto → native conversion, streamed chunks and the
// final response, and backend errors mapped to gRPC status codes.
import API
import GRPCCore
import Services
import ServingTypes
import SwiftProtobuf
import Synchronization
import Testing

/// Answers every request with two deltas and a result, or with `error`; records the requests.
final class FakeBackend: PolicyBackend {
  let error: BackendError?
  let seen = Mutex<[GenerationRequest]>([])

  init(error: BackendError? = nil) { self.error = error }

  func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
    seen.withLock { $0.append(request) }
    let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
    if let error {
      continuation.finish(throwing: error)
      return stream
    }
    continuation.yield(.delta(text: "Hel", tokenIds: [5], logprobs: [-0.5]))
    continuation.yield(.delta(text: "lo", tokenIds: [6, 2], logprobs: [-0.25, -1]))
    continuation.yield(
      .finished(
        GenerationResult(
          text: "Hello",
          tokenIds: [5, 6, 2],
          logprobs: [-0.5, -0.25, -1],
          finishReason: .eos,
          policyVersion: "base",
          generationId: "g-1",
          promptTokens: 20,
          queueTimeMs: 1,
          computeTimeMs: 2
        )
      )
    )
    continuation.finish()
    return stream
  }
}

@Suite struct PolicyBackendTests {
  static let request = Rlhfd_V1_GenerateRequest.with {
    $0.prompt = "Describe the image."
    $0.images = [.with { $0.sha256 = String(repeating: "ab", count: 32) }]
    $0.sampling.maxNewTokens = 16
    $0.sampling.temperature = 0.5
    $0.sampling.stop = ["\n"]
    $0.sampling.seed = 9
    $0.sampling.logprobs = true
  }

  @Test func generateConvertsTheRequestAndReturnsTheResult() async throws {
    let backend = FakeBackend()
    try await withServices(policy: backend) { client, _ in
      let policy = Rlhfd_V1_Policy.Client(wrapping: client)
      let response = try await policy.generate(Self.request)
      #expect(response.text == "Hello")
      #expect(response.tokenIds == [5, 6, 2])
      #expect(response.logprobs.map(\.logprob) == [-0.5, -0.25, -1])
      #expect(response.finishReason == .eos)
      #expect(response.generationID == "g-1")
      #expect(response.usage.promptTokens == 20)
      #expect(response.usage.completionTokens == 3)
    }
    let seen = backend.seen.withLock { $0 }
    #expect(seen.count == 1)
    #expect(seen.first?.images == [.sha256(String(repeating: "ab", count: 32))])
    #expect(seen.first?.sampling.maxNewTokens == 16)
    #expect(seen.first?.sampling.topP == 1)  // 0 = disabled
    #expect(seen.first?.sampling.repetitionPenalty == 1)
    #expect(seen.first?.sampling.seed == 9)
    #expect(seen.first?.sampling.stop == ["\n"])
  }

  @Test func generateStreamSendsDeltasThenTheFinalResponse() async throws {
    try await withServices(policy: FakeBackend()) { client, _ in
      let policy = Rlhfd_V1_Policy.Client(wrapping: client)
      let chunks = try await policy.generateStream(Self.request) { response in
        var chunks: [Rlhfd_V1_GenerateChunk] = []
        for try await chunk in response.messages { chunks.append(chunk) }
        return chunks
      }
      #expect(chunks.count == 3)
      #expect(chunks.map(\.text).joined() == "Hello")
      #expect(chunks.last?.hasFinal == true)
      #expect(chunks.last?.final.text == "Hello")
      #expect(chunks.dropLast().allSatisfy { !$0.hasFinal })
    }
  }

  @Test(arguments: [
    (BackendError.Code.invalidArgument, RPCError.Code.invalidArgument),
    (.notFound, .notFound),
    (.resourceExhausted, .resourceExhausted),
    (.unavailable, .unavailable),
    (.deadlineExceeded, .deadlineExceeded),
    (.internalError, .internalError),
  ])
  func backendErrorsMapToStatusCodes(_ code: BackendError.Code, _ expected: RPCError.Code)
    async throws
  {
    let backend = FakeBackend(error: BackendError(code, "why it failed"))
    try await withServices(policy: backend) { client, _ in
      let policy = Rlhfd_V1_Policy.Client(wrapping: client)
      let error = await rpcError { _ = try await policy.generate(Self.request) }
      #expect(error?.code == expected)
      #expect(error?.message == "why it failed")
      let streamed = await rpcError {
        try await policy.generateStream(Self.request) { response in
          for try await _ in response.messages {}
        }
      }
      #expect(streamed?.code == expected)
    }
  }

  @Test func invalidRequestsNeverReachTheBackend() async throws {
    let backend = FakeBackend()
    try await withServices(policy: backend) { client, _ in
      let policy = Rlhfd_V1_Policy.Client(wrapping: client)
      let error = await rpcError {
        _ = try await policy.generate(.with { $0.prompt = " " })
      }
      #expect(error?.code == .invalidArgument)
    }
    #expect(backend.seen.withLock { $0.isEmpty })
  }
}
