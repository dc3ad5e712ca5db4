// What the trainer publishes, promotes and rolls back survives a restart exactly as Admin's
// changes do (the store is the registry's journal); its internal live version does not.
import Foundation
import Logging
import Models
import Serving
import ServingTypes
import Store
import Testing

@testable import Daemon

@Suite(.serialized) struct PublishRestartTests {
  static func start(_ database: String) throws -> (ModelRunner, SQLiteFeedbackStore) {
    let store = try SQLiteFeedbackStore(path: database)
    var settings = ModelRunnerSettings()
    settings.versionJournal = StoreVersionJournal(store: store)
    let runner = try ModelRunner(
      directory: RunnerFixtures.root + "/tiny-llava-policy",
      settings: settings
    )
    try Daemon.restoreVersions(
      runner,
      store: store,
      DaemonConfiguration(),
      logger: Logger(label: "test")
    )
    return (runner, store)
  }

  @Test func publishedVersionsAndTheirPromotionsAreRestored() async throws {
    let root = NSTemporaryDirectory() + "rlhfd-restart-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let database = root + "/feedback.db"
    var request = GenerationRequest(prompt: "Hello there")
    request.sampling.maxNewTokens = 5
    let served: [Int32]
    do {
      let (runner, store) = try Self.start(database)
      let adapter = try DecoderAdapter(directory: AdapterFixtures.peft, base: runner.model.weights)
      try runner.registerInternal(id: "live-1", parent: "base", adapter: adapter)
      try runner.publishVersion(id: "ppo-1", parent: "base", adapter: adapter, root: root)
      try runner.publishVersion(id: "ppo-2", parent: "ppo-1", adapter: adapter, root: root)
      try runner.promoteVersion("ppo-1")
      try runner.promoteVersion("ppo-2")
      #expect(try runner.rollbackPromotion().promoted == "ppo-1")
      served = try await collect(request, runner: runner).result.tokenIds
      _ = store
    }
    let (runner, _) = try Self.start(database)
    let listing = runner.versions.listing()
    #expect(listing.promoted == "ppo-1")
    let byID = Dictionary(uniqueKeysWithValues: listing.versions.map { ($0.id, $0) })
    #expect(byID["ppo-1"]?.source == "trainer" && byID["ppo-2"]?.parent == "ppo-1")
    #expect(byID["ppo-2"]?.adapterPath == root + "/ppo-2" && byID["ppo-2"]!.adapterBytes > 0)
    #expect(byID["live-1"] == nil && !runner.versions.isInternal("live-1"))
    let result = try await collect(request, runner: runner).result
    #expect(result.policyVersion == "ppo-1" && result.tokenIds == served)
    // The stack is restored too: rolling back again reaches the base.
    #expect(try runner.rollbackPromotion().promoted == "base")
  }
}
