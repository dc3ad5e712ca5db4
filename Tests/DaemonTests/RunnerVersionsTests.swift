// The policy runner with versions: the PEFT fixture adapter (made for the tiny policy by
// transformers + PEFT, tools/reference/make_lora_fixtures.py) loads, pinned and promoted
// requests report their version, a version in use cannot be retired. (Logits against PEFT:
// Tests/ModelsTests/LoRA*.swift; through the daemon: Tests/Interop/test_policy_versions.py.)
import Foundation
import Services
import Serving
import ServingTypes
import Testing

enum AdapterFixtures {
  static let peft: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.lastPathComponent != "Tests" && url.pathComponents.count > 1 {
      url.deleteLastPathComponent()
    }
    return url.appendingPathComponent("Fixtures/lora/adapter-a").path
  }()
}

@Suite(.serialized) struct RunnerVersionsTests {
  @Test func pinnedAndPromotedRequestsRunOnTheirVersion() async throws {
    let runner = try ModelRunner(directory: RunnerFixtures.root + "/tiny-llava-policy")
    let adapter = try runner.adapterLoader.load(directory: AdapterFixtures.peft)
    #expect(adapter.byteCount > 0)
    try runner.versions.register(
      PolicyVersionInfo(
        id: "v1",
        parent: "base",
        source: "admin",
        adapterPath: AdapterFixtures.peft,
        createdUnixMs: 1
      ),
      adapter: adapter
    )
    var request = GenerationRequest(prompt: "Hello")
    request.sampling.maxNewTokens = 3
    request.policyVersion = "v1"
    #expect(try await collect(request, runner: runner).result.policyVersion == "v1")
    request.policyVersion = ""
    #expect(try await collect(request, runner: runner).result.policyVersion == "base")
    _ = try runner.versions.promote("v1")
    #expect(try await collect(request, runner: runner).result.policyVersion == "v1")
    _ = try runner.versions.promote("base")
    #expect(runner.versions.inUse("v1") == 0)
    try runner.versions.retire("v1")
    request.policyVersion = "v1"
    do {
      _ = try await collect(request, runner: runner)
      Issue.record("a retired version was served")
    } catch let error as BackendError { #expect(error.code == .notFound) }
  }

  @Test func adaptersThatDoNotFitAreRefused() throws {
    let runner = RunnerFixtures.runner
    do {
      _ = try runner.adapterLoader.load(directory: "/nonexistent/adapter")
      Issue.record("loaded a missing directory")
    } catch { #expect(error.code == .notFound) }
    do {
      _ = try runner.adapterLoader.load(directory: RunnerFixtures.root + "/tiny-llava-policy")
      Issue.record("loaded a model directory as an adapter")
    } catch { #expect(error.code == .invalidArgument) }
  }
}
