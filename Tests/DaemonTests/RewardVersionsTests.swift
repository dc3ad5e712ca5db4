// Reward-model versions in the reward runner: the PEFT fixture with a trained score head
// (tools/reference/make_reward_adapter_fixture.py) is served as a version, a Score runs on the
// version current when it arrived and reports it (also when the version changes while it runs),
// the registry's rules, and a policy refuses an adapter carrying a score head. (Scores against
// the training forward: Tests/TrainingTests/RewardVersionScoreTests.swift.)
import Foundation
import Imaging
import Models
import Serving
import ServingTypes
import Testing

enum RewardVersionFixtures {
  static let adapter = RunnerFixtures.root + "/lora/reward-adapter"

  /// A fresh runner on the embedded reward model (its context holds the evaluation turn).
  static func runner() throws -> RewardRunner {
    var settings = RewardRunnerSettings()
    settings.imageLimits.minWidth = 2
    settings.imageLimits.minHeight = 2
    let directory = URL(fileURLWithPath: RunnerFixtures.root)
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("models/default/reward").path
    return try RewardRunner(directory: directory, settings: settings)
  }

  static func info(_ id: String, parent: String = "base") -> RewardModelVersionInfo {
    RewardModelVersionInfo(
      id: id,
      parent: parent,
      source: "trainer",
      adapterPath: nil,
      createdUnixMs: 1
    )
  }

  static func request() throws -> RewardRequest {
    RewardRequest(
      prompt: "What is in the image?",
      image: .data(try RunnerFixtures.image("rgb_64x48.png")),
      responses: ["A yellow circle.", "A red bus.", "A cat on a sofa."]
    )
  }
}

@Suite(.serialized) struct RewardVersionsTests {
  @Test func aScoreRunsOnTheVersionCurrentAtItsArrival() async throws {
    let runner = try RewardVersionFixtures.runner()
    #expect(runner.versions.current.id == "base")
    let request = try RewardVersionFixtures.request()
    let base = try await runner.score(request)
    #expect(base.rewardModelVersion == "base")
    let (adapter, head) = try runner.loadVersion(directory: RewardVersionFixtures.adapter)
    #expect(head?.bias == 0.25)
    try runner.versions.register(
      RewardVersionFixtures.info("rm-1"),
      adapter: adapter,
      head: head,
      makeCurrent: true
    )
    let current = runner.versions.currentVersion()
    #expect(current.id == "rm-1" && current.adapter === adapter && current.head?.bias == 0.25)
    let v1 = try await runner.score(request)
    #expect(v1.rewardModelVersion == "rm-1")
    for (a, b) in zip(v1.rewards, base.rewards) { #expect(abs(a.modelScore - b.modelScore) > 1e-3) }
    // The same version scores the same alone (its own prefix keys, no stale base blocks).
    let single = try await runner.score(
      RewardRequest(prompt: request.prompt, image: request.image, responses: [request.responses[1]])
    )
    #expect(abs(single.rewards[0].modelScore - v1.rewards[1].modelScore) <= 1e-4)

    // In flight: the base is current when the request arrives; rm-1 becomes current while
    // it waits or runs. It finishes on the base and says so.
    try runner.versions.setCurrent("base")
    let task = Task { try await runner.score(request) }
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(10)
    while runner.versions.inUse("base") == 0 && clock.now < deadline {
      try await Task.sleep(for: .microseconds(200))
    }
    try runner.versions.setCurrent("rm-1")
    let inFlight = try await task.value
    #expect(inFlight.rewardModelVersion == "base")
    for (a, b) in zip(inFlight.rewards, base.rewards) {
      #expect(abs(a.modelScore - b.modelScore) <= 1e-4)
    }
    #expect(runner.versions.inUse("base") == 0 && runner.versions.inUse("rm-1") == 0)
    #expect(try await runner.score(request).rewardModelVersion == "rm-1")
    var info = ModelInfo()
    info.describe(runner)
    #expect(info.rewardModelVersion == "rm-1")
  }

  @Test func registryRules() throws {
    let runner = try RewardVersionFixtures.runner()
    let versions = runner.versions
    let (adapter, head) = try runner.loadVersion(directory: RewardVersionFixtures.adapter)
    try versions.register(RewardVersionFixtures.info("a"), adapter: adapter, head: head)
    #expect(versions.current.id == "base")
    func code(_ body: () throws -> Void) -> BackendError.Code? {
      do { try body() } catch { return (error as? BackendError)?.code }
      return nil
    }
    #expect(
      code { try versions.register(RewardVersionFixtures.info("a"), adapter: nil, head: nil) }
        == .alreadyExists
    )
    #expect(
      code {
        try versions.register(RewardVersionFixtures.info("b", parent: "x"), adapter: nil, head: nil)
      } == .notFound
    )
    #expect(
      code {
        try versions.register(RewardVersionFixtures.info("c"), adapter: nil, head: ([1, 2], nil))
      } == .invalidArgument
    )
    #expect(code { try versions.setCurrent("nope") } == .notFound)
    try versions.setCurrent("a")
    #expect(code { try versions.retire("a") } == .failedPrecondition)
    #expect(code { try versions.retire("base") } == .failedPrecondition)
    try versions.setCurrent("base")
    try versions.retire("a")
    #expect(code { try versions.setCurrent("a") } == .notFound)
    #expect(
      code { try versions.register(RewardVersionFixtures.info("a"), adapter: nil, head: nil) }
        == .alreadyExists
    )
    // Start-up: restored versions and the current one come back.
    try versions.restore(
      [(RewardVersionFixtures.info("r"), adapter, head)],
      retired: ["a"],
      current: "r"
    )
    #expect(versions.current.id == "r")
    #expect(versions.listing().map(\.id).sorted() == ["base", "r"])
    #expect(code { _ = try runner.loadVersion(directory: "/nonexistent/adapter") } == .notFound)
  }

  @Test func aPolicyRefusesAnAdapterWithAScoreHead() throws {
    do {
      _ = try RunnerFixtures.runner.adapterLoader.load(directory: RewardVersionFixtures.adapter)
      Issue.record("a policy loaded an adapter with modules_to_save")
    } catch {
      #expect(error.code == .invalidArgument)
      #expect(error.message.contains("modules_to_save") && error.message.contains("policy adapter"))
    }
  }
}
