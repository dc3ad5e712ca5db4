import API
import Foundation
import GRPCCore
import ServingTypes
import SwiftProtobuf
import Testing

@testable import Services

@Suite struct ValidationTests {
  /// A valid request with one field broken, the field the message must name.
  static let badGenerateRequests: [(String, Rlhfd_V1_GenerateRequest, String)] = [
    ("empty prompt", .with { $0.prompt = "" }, "prompt"),
    (
      "unknown priority",
      .with {
        $0.prompt = "a"
        $0.priority = .UNRECOGNIZED(5)
      }, "priority"
    ),
    ("blank prompt", .with { $0.prompt = " \n\t" }, "prompt"),
    (
      "negative temperature",
      .with {
        $0.prompt = "a"
        $0.sampling.temperature = -1
      }, "temperature"
    ),
    (
      "NaN temperature",
      .with {
        $0.prompt = "a"
        $0.sampling.temperature = .nan
      }, "temperature"
    ),
    (
      "top_p above 1",
      .with {
        $0.prompt = "a"
        $0.sampling.topP = 1.5
      }, "top_p"
    ),
    (
      "top_p negative",
      .with {
        $0.prompt = "a"
        $0.sampling.topP = -0.1
      }, "top_p"
    ),
    (
      "penalty below 1",
      .with {
        $0.prompt = "a"
        $0.sampling.repetitionPenalty = 0.5
      }, "repetition_penalty"
    ),
    (
      "zero max_new_tokens",
      .with {
        $0.prompt = "a"
        $0.sampling.maxNewTokens = 0
      }, "max_new_tokens"
    ),
    (
      "negative max_new_tokens",
      .with {
        $0.prompt = "a"
        $0.sampling.maxNewTokens = -3
      }, "max_new_tokens"
    ),
    (
      "huge max_new_tokens",
      .with {
        $0.prompt = "a"
        $0.sampling.maxNewTokens = 1 << 30
      }, "max_new_tokens"
    ),
    (
      "empty stop",
      .with {
        $0.prompt = "a"
        $0.sampling.stop = ["ok", ""]
      }, "stop[1]"
    ),
    (
      "image without source",
      .with {
        $0.prompt = "a"
        $0.images = [Rlhfd_V1_Image()]
      }, "images[0]"
    ),
    (
      "empty image data",
      .with {
        $0.prompt = "a"
        $0.images = [.with { $0.data = Data() }]
      }, "images[0].data"
    ),
    (
      "bad image hash",
      .with {
        $0.prompt = "a"
        $0.images = [.with { $0.sha256 = "XYZ" }]
      }, "images[0].sha256"
    ),
    (
      "too many images",
      .with {
        $0.prompt = "a"
        $0.images = Array(repeating: .with { $0.data = Data([1]) }, count: 9)
      }, "images"
    ),
  ]

  @Test(arguments: badGenerateRequests)
  func badGenerateIsInvalidArgument(name: String, request: Rlhfd_V1_GenerateRequest, field: String)
    async throws
  {
    try await withServices { client, _ in
      let policy = Rlhfd_V1_Policy.Client(wrapping: client)
      let error = await rpcError { _ = try await policy.generate(request) }
      #expect(error?.code == .invalidArgument, "\(name)")
      #expect(error?.message.contains(field) == true, "\(name): \(error?.message ?? "")")
      let streamError = await rpcError {
        try await policy.generateStream(request) { response in
          for try await _ in response.messages {}
        }
      }
      #expect(streamError?.code == .invalidArgument, "\(name) (stream)")
    }
  }

  @Test func validGenerateIsUnimplementedWithAMessage() async throws {
    try await withServices { client, _ in
      let policy = Rlhfd_V1_Policy.Client(wrapping: client)
      let request = Rlhfd_V1_GenerateRequest.with {
        $0.prompt = "Describe the image."
        $0.images = [.with { $0.sha256 = String(repeating: "ab", count: 32) }]
        $0.sampling.maxNewTokens = 16
        $0.sampling.topP = 0.9
        $0.sampling.repetitionPenalty = 1.1
      }
      let error = await rpcError { _ = try await policy.generate(request) }
      #expect(error?.code == .unimplemented)
      #expect(error?.message.contains("not available yet") == true)
    }
  }

  static let badScoreRequests: [(String, Rlhfd_V1_ScoreRequest, String)] = [
    (
      "unknown priority",
      .with {
        $0.prompt = "a"
        $0.image.data = Data([1])
        $0.responses = ["b"]
        $0.priority = .UNRECOGNIZED(2)
      }, "priority"
    ),
    (
      "no candidates",
      .with {
        $0.prompt = "a"
        $0.image.data = Data([1])
      }, "at least one"
    ),
    (
      "both kinds",
      .with {
        $0.prompt = "a"
        $0.image.data = Data([1])
        $0.responses = ["x"]
        $0.generationIds = ["g"]
      }, "not both"
    ),
    (
      "no image",
      .with {
        $0.prompt = "a"
        $0.responses = ["x"]
      }, "image"
    ),
    (
      "empty prompt",
      .with {
        $0.image.data = Data([1])
        $0.responses = ["x"]
      }, "prompt"
    ),
    (
      "choice out of range",
      .with {
        $0.prompt = "a"
        $0.image.data = Data([1])
        $0.responses = ["x"]
        $0.facts.choices = ["a", "b"]
        $0.facts.correctChoice = 2
      }, "correct_choice"
    ),
  ]

  @Test(arguments: badScoreRequests)
  func badScoreIsInvalidArgument(name: String, request: Rlhfd_V1_ScoreRequest, expected: String)
    async throws
  {
    try await withServices { client, _ in
      let reward = Rlhfd_V1_Reward.Client(wrapping: client)
      let error = await rpcError { _ = try await reward.score(request) }
      #expect(error?.code == .invalidArgument, "\(name)")
      #expect(error?.message.contains(expected) == true, "\(name): \(error?.message ?? "")")
    }
  }

  @Test func feedbackIsValidatedAndNeverAcknowledgedWithoutAStore() async throws {
    try await withServices { client, _ in
      let feedback = Rlhfd_V1_Feedback.Client(wrapping: client)
      var preference = Rlhfd_V1_PreferenceFeedback.with {
        $0.image.data = Data([1, 2, 3])
        $0.prompt = "What is in the image?"
        $0.response1.text = "A cat."
        $0.response2.generationID = "gen-1"
        $0.preferred = 3
      }
      var error = await rpcError { _ = try await feedback.submitPreference(preference) }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message.contains("preferred") == true)
      preference.preferred = 1
      error = await rpcError { _ = try await feedback.submitPreference(preference) }
      #expect(error?.code == .unimplemented)

      error = await rpcError {
        _ = try await feedback.submitRating(
          .with {
            $0.generationID = "g"
            $0.score = 2
          }
        )
      }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message.contains("score") == true)
      error = await rpcError { _ = try await feedback.submitPrompts(Rlhfd_V1_PromptBatch()) }
      #expect(error?.code == .invalidArgument)
    }
  }
}

@Suite struct NativeRequestTests {
  @Test func priorityAndDeadlineReachTheBackend() {
    let deadline = ContinuousClock.now + .seconds(3)
    let batch = PolicyService.native(.with { $0.priority = .batch }, deadline: deadline)
    #expect(batch.priority == .batch && batch.deadline == deadline)
    #expect(PolicyService.native(.with { $0.prompt = "a" }).priority == .interactive)
    let score = RewardService.native(.with { $0.priority = .batch }, deadline: deadline)
    #expect(score.priority == .batch && score.deadline == deadline)
  }
}
