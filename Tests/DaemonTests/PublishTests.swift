// Publishing a trained adapter: written atomically as a PEFT directory under the given root,
// registered (journaled, source `trainer`) from that directory, served with the same tokens as
// the adapter it was written from; promotion and rollback go through the journal as Admin's do;
// a failed registration leaves no directory behind. The load signal counts interactive requests
// and not batch ones.
import Foundation
import Models
import ServingTypes
import Synchronization
import Testing

@testable import Serving

@Suite(.serialized) struct PublishTests {
  static func temporaryRoot() -> String {
    NSTemporaryDirectory() + "rlhfd-publish-\(UInt32.random(in: 0...UInt32.max))"
  }

  @Test func aPublishedVersionIsWrittenJournaledAndServed() async throws {
    let journal = RecordingJournal()
    var settings = ModelRunnerSettings()
    settings.versionJournal = journal
    let runner = try ModelRunner(
      directory: RunnerFixtures.root + "/tiny-llava-policy",
      settings: settings
    )
    let root = Self.temporaryRoot()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let adapter = try DecoderAdapter(directory: AdapterFixtures.peft, base: runner.model.weights)
    try runner.registerInternal(id: "live-1", parent: "base", adapter: adapter)
    let published = try runner.publishVersion(
      id: "ppo-1",
      parent: "base",
      adapter: adapter,
      root: root
    )
    #expect(published.source == "trainer" && published.parent == "base")
    #expect(published.adapterPath == PolicyVersions.absolutePath(root + "/ppo-1"))
    #expect(published.adapterBytes > 0 && published.createdUnixMs > 0)
    #expect(FileManager.default.fileExists(atPath: root + "/ppo-1/adapter_model.safetensors"))
    #expect(runner.versions.listing().versions.contains { $0.id == "ppo-1" })
    #expect(journal.log.withLock { $0 } == ["register ppo-1"])

    // What the directory serves is what the in-memory adapter served.
    var request = GenerationRequest(prompt: "Hello there")
    request.sampling.maxNewTokens = 6
    request.policyVersion = "live-1"
    let live = try await collect(request, runner: runner).result
    request.policyVersion = "ppo-1"
    let served = try await collect(request, runner: runner).result
    #expect(served.tokenIds == live.tokenIds)

    #expect(
      try runner.promoteVersion("ppo-1") == PromotionChange(previous: "base", promoted: "ppo-1")
    )
    #expect(try runner.rollbackPromotion() == PromotionChange(previous: "ppo-1", promoted: "base"))
    #expect(journal.log.withLock { $0 } == ["register ppo-1", "promote ppo-1", "rollback base"])

    expectBackend(.alreadyExists) {
      _ = try runner.publishVersion(id: "ppo-1", parent: "base", adapter: adapter, root: root)
    }
    expectBackend(.alreadyExists) {
      _ = try runner.publishVersion(id: "live-1", parent: "base", adapter: adapter, root: root)
    }
    expectBackend(.invalidArgument) {
      _ = try runner.publishVersion(id: "../x", parent: "base", adapter: adapter, root: root)
    }
    expectBackend(.invalidArgument) {
      _ = try runner.publishVersion(id: "..", parent: "base", adapter: adapter, root: root)
    }
    // The store refuses: nothing registered, nothing left on disk.
    journal.failing.store(true, ordering: .relaxed)
    expectBackend(.unavailable) {
      _ = try runner.publishVersion(id: "ppo-2", parent: "ppo-1", adapter: adapter, root: root)
    }
    #expect(!FileManager.default.fileExists(atPath: root + "/ppo-2"))
    #expect(!runner.versions.listing().versions.contains { $0.id == "ppo-2" })
  }

  @Test func adminRegistersThroughTheSameCall() throws {
    let runner = RunnerFixtures.runner
    let id = "admin-\(UInt32.random(in: 0...UInt32.max))"
    let info = try runner.registerVersion(
      id: id,
      adapterPath: AdapterFixtures.peft,
      parent: "",
      source: "admin"
    )
    #expect(info.parent == runner.settings.policyVersion && info.source == "admin")
    expectBackend(.alreadyExists) {
      _ = try runner.registerVersion(
        id: id,
        adapterPath: AdapterFixtures.peft,
        parent: "",
        source: "admin"
      )
    }
    try runner.versions.retire(id)
  }

  @Test func theLoadSignalCountsInteractiveWorkOnly() async throws {
    let runner = try ModelRunner(directory: RunnerFixtures.root + "/tiny-llava-policy")
    #expect(runner.interactiveDemand == 0 && runner.load == RunnerLoad())
    var request = GenerationRequest(prompt: "Count slowly")
    request.sampling.maxNewTokens = 150
    request.priority = .batch
    // A batch request held running by its unread stream: load, but no interactive demand.
    let stream = runner.generate(request)
    var iterator = stream.makeAsyncIterator()
    _ = try await iterator.next()
    #expect(runner.load.running == 1 && runner.interactiveDemand == 0)
    request.priority = .interactive
    let interactive = runner.generate(request)
    var second = interactive.makeAsyncIterator()
    _ = try await second.next()
    #expect(runner.interactiveDemand == 1 && runner.load.interactiveRunning == 1)
    #expect(runner.load.running == 2 && runner.load.interactivePreparing == 0)
    _ = iterator
    _ = second
  }

  @Test func preparingMarksCountInteractiveRequestsUntilDoneOrDropped() {
    let count = PreparingCount()
    let batch = count.mark(.batch)
    var interactive: PreparingMark? = count.mark(.interactive)
    let other = count.mark(.interactive)
    #expect(count.value == 2)
    other.done()
    other.done()
    batch.done()
    #expect(count.value == 1)
    interactive = nil
    #expect(count.value == 0 && interactive == nil)
  }
}
