import ServingTypes
import Synchronization
import Testing

// While a model loads the daemon already listens: calls get UNAVAILABLE, and health turns
// SERVING (READY=1) only once listening and loading have both happened.
@testable import Daemon
@testable import Serving

@Suite struct ModelLoadingTests {
  @Test func policyCallsAreUnavailableUntilTheModelIsSet() async throws {
    let slot = LoadingSlot<ModelRunner>(what: "policy")
    let backend = LoadingPolicyBackend(slot: slot)
    var request = GenerationRequest(prompt: "What is in the image?")
    request.sampling.maxNewTokens = 2
    await #expect {
      for try await _ in backend.generate(request) {}
    } throws: { error in
      (error as? BackendError)?.code == .unavailable
        && "\(error)".contains("policy model is still loading")
    }
    slot.set(RunnerFixtures.runner)
    var finished = false
    for try await event in backend.generate(request) {
      if case .finished(let result) = event { finished = result.tokenIds.count == 2 }
    }
    #expect(finished)
  }

  @Test func rewardCallsAreUnavailableUntilTheModelIsSet() async throws {
    let backend = LoadingRewardBackend(slot: LoadingSlot<RewardRunner>(what: "reward"))
    let request = RewardRequest(
      prompt: "Describe.",
      image: .sha256(String(repeating: "0", count: 64)),
      responses: ["A cat."]
    )
    await #expect {
      _ = try await backend.score(request)
    } throws: { error in
      (error as? BackendError)?.code == .unavailable && "\(error)".contains("reward model")
    }
  }

  @Test(arguments: [true, false])
  func readinessAnnouncesOnceWhenBothHappened(listeningFirst: Bool) {
    let announced = Mutex<[[String]]>([])
    let readiness = Readiness { addresses in announced.withLock { $0.append(addresses) } }
    if listeningFirst {
      readiness.listening(on: ["127.0.0.1:1"])
      #expect(announced.withLock { $0.isEmpty })
      readiness.loaded()
    } else {
      readiness.loaded()
      #expect(announced.withLock { $0.isEmpty })
      readiness.listening(on: ["127.0.0.1:1"])
    }
    readiness.loaded()
    #expect(announced.withLock { $0 } == [["127.0.0.1:1"]])
  }
}
