// Admin.GetModelInfo from the daemon's model source, and Feedback's image and batch checks.
import API
import Foundation
import GRPCCore
import Services
import ServingTypes
import Testing

struct NotAnImage: Error, CustomStringConvertible {
  var description: String { "not a PNG or JPEG" }
}

@Suite struct AdminAndFeedbackTests {
  @Test func getModelInfoReportsTheSourceAndIsUnavailableWhileLoading() async throws {
    var expected = ModelInfo()
    expected.policyModelName = "policy"
    expected.contextLength = 4096
    expected.computeKernels = "openblas core=SkylakeX"
    let info = expected
    let source: ModelInfoSource = { info }
    try await withServices(modelInfo: source) { client, _ in
      let reply = try await Rlhfd_V1_Admin.Client(wrapping: client).getModelInfo(.init())
      #expect(reply.policyModelName == "policy")
      #expect(reply.contextLength == 4096)
      #expect(reply.computeKernels == "openblas core=SkylakeX")
    }
    let loading: ModelInfoSource = { () throws(BackendError) in
      throw BackendError(.unavailable, "the policy model is still loading")
    }
    try await withServices(modelInfo: loading) { client, _ in
      let admin = Rlhfd_V1_Admin.Client(wrapping: client)
      let error = await rpcError { _ = try await admin.getModelInfo(.init()) }
      #expect(error?.code == .unavailable)
      #expect(error?.message.contains("loading") == true)
    }
  }

  @Test func feedbackImagesAreProbedAndPromptBatchesBounded() async throws {
    let probe: ImageProbe = { bytes in
      if bytes.first != 0x89 { throw NotAnImage() }
      return String(repeating: "ab", count: 32)
    }
    try await withServices(probeImage: probe) { client, _ in
      let feedback = Rlhfd_V1_Feedback.Client(wrapping: client)
      var preference = Rlhfd_V1_PreferenceFeedback()
      preference.image.data = .init([0x47, 0x49, 0x46])
      preference.prompt = "What?"
      preference.response1.text = "A"
      preference.response2.text = "B"
      preference.preferred = 1
      var error = await rpcError { _ = try await feedback.submitPreference(preference) }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message == "image.data: not a PNG or JPEG")
      preference.image.data = .init([0x89, 0x50])
      error = await rpcError { _ = try await feedback.submitPreference(preference) }
      #expect(error?.code == .unimplemented)  // valid: the store is not built yet

      var prompt = Rlhfd_V1_RlPrompt()
      prompt.image.data = .init([0x89, 0x50])
      prompt.prompt = "Why?"
      var batch = Rlhfd_V1_PromptBatch()
      batch.prompts = Array(repeating: prompt, count: 257)
      error = await rpcError { _ = try await feedback.submitPrompts(batch) }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message.contains("at most 256") == true)
      batch.prompts = [prompt, prompt]
      batch.prompts[1].image.data = .init([0x00])
      error = await rpcError { _ = try await feedback.submitPrompts(batch) }
      #expect(error?.message == "prompts[1].image.data: not a PNG or JPEG")
    }
  }
}
