// The policy-version registry in the store: migration from an empty database and from schema v1
// with data, registration, the promotion stack (promote, rollback, retire) and persistence
// across reopening.
import Foundation
import Testing

@testable import Store

func versionRecord(_ id: String, source: PolicyVersionRecord.Source = .admin)
  -> PolicyVersionRecord
{
  PolicyVersionRecord(
    id: id,
    parent: "base",
    source: source,
    adapterPath: "/adapters/\(id)",
    createdUnixMs: 1_700_000_000_000
  )
}

@Suite struct PolicyVersionStoreTests {
  @Test func anEmptyDatabaseHasTheBaseVersionAndNoPromotion() throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let versions = try store.policyVersions()
    #expect(versions.map(\.id) == ["base"])
    #expect(versions[0].source == .base && versions[0].adapterPath == nil)
    #expect(try store.promotionStack() == [])
  }

  @Test func v1WithDataMigratesKeepingItsRecords() async throws {
    let path = try temporaryStorePath()
    try SQLiteFeedbackStore.createDatabase(
      path: path,
      upTo: "v1: feedback, generations, images",
      seed: """
        INSERT INTO images (sha256, bytes, created_unix_ms) VALUES ('aa', x'00', 1);
        INSERT INTO generations (id, created_unix_ms, policy_version, prompt, raw_prompt,
          template, sampling, prompt_token_count, token_ids, logprobs, text, finish_reason,
          queue_ms, compute_ms)
        VALUES ('g-old', 1, 'base', 'Hi', 0, 'llava15',
          '{"maxNewTokens":4,"temperature":0,"topK":0,"topP":1,"repetitionPenalty":1,"seed":7,"stop":[]}',
          3, x'0500000006000000', x'0000803f00000040', 'ab', 'LENGTH', 0.5, 1.5);
        INSERT INTO generation_images (generation_id, position, image_sha256)
          VALUES ('g-old', 0, 'aa');
        INSERT INTO ratings (id, created_unix_ms, generation_id, score)
          VALUES ('rating-old', 1, 'g-old', 1);
        """
    )
    let store = try SQLiteFeedbackStore(path: path)
    #expect(try store.policyVersions().map(\.id) == ["base"])
    try store.registerPolicyVersion(versionRecord("v1"))
    try store.promotePolicyVersion("v1")
    #expect(try store.promotionStack() == ["v1"])
    #expect(try store.integrityCheck() == "ok")
    let old = try store.generation(id: "g-old")
    #expect(old?.tokenIds == [5, 6] && old?.images == [.sha256("aa")])
    var pending = PendingCounts()
    pending.ratings = 1
    #expect(try store.pendingCounts() == pending)
  }

  @Test func idsAreUniqueAndNeverReused() throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    try store.registerPolicyVersion(versionRecord("v1"))
    #expect(throws: StoreError.self) { try store.registerPolicyVersion(versionRecord("v1")) }
    #expect(throws: StoreError.self) { try store.registerPolicyVersion(versionRecord("base")) }
    try store.retirePolicyVersion("v1")
    expectCode(.exists) { try store.registerPolicyVersion(versionRecord("v1")) }
  }

  @Test func promoteRollbackAndRetireFollowTheStack() throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    for id in ["v1", "v2", "v3"] { try store.registerPolicyVersion(versionRecord(id)) }
    try store.promotePolicyVersion("base")
    try store.promotePolicyVersion("v1")
    try store.promotePolicyVersion("v2")
    try store.promotePolicyVersion("v2")  // no-op
    try store.promotePolicyVersion("v3")
    #expect(try store.promotionStack() == ["base", "v1", "v2", "v3"])
    try store.rollbackPolicyVersion(to: "v2")
    #expect(try store.promotionStack() == ["base", "v1", "v2"])
    try store.rollbackPolicyVersion(to: "base")
    #expect(try store.promotionStack() == ["base"])
    expectCode(.precondition) { try store.rollbackPolicyVersion(to: "base") }
    expectCode(.precondition) { try store.rollbackPolicyVersion(to: "v3") }
    try store.promotePolicyVersion("v1")
    try store.promotePolicyVersion("v2")
    try store.promotePolicyVersion("v1")
    expectCode(.precondition) { try store.retirePolicyVersion("v1") }  // promoted
    expectCode(.precondition) { try store.retirePolicyVersion("base") }
    expectCode(.notFound) { try store.retirePolicyVersion("nope") }
    expectCode(.notFound) { try store.promotePolicyVersion("nope") }
    try store.retirePolicyVersion("v2")
    #expect(try store.promotionStack() == ["base", "v1"])
    expectCode(.precondition) { try store.promotePolicyVersion("v2") }
    expectCode(.precondition) { try store.retirePolicyVersion("v2") }
    let v2 = try store.policyVersions().first { $0.id == "v2" }
    #expect(v2?.retiredUnixMs != nil)
  }

  @Test func versionsAndThePromotedOneSurviveReopening() throws {
    let path = try temporaryStorePath()
    do {
      let store = try SQLiteFeedbackStore(path: path)
      try store.registerPolicyVersion(versionRecord("cfg", source: .config))
      try store.registerPolicyVersion(versionRecord("v1"))
      try store.promotePolicyVersion("cfg")
      try store.promotePolicyVersion("v1")
      store.shutdown()
    }
    let store = try SQLiteFeedbackStore(path: path)
    let versions = try store.policyVersions()
    #expect(Set(versions.map(\.id)) == ["base", "cfg", "v1"])
    #expect(versions.first { $0.id == "cfg" } == versionRecord("cfg", source: .config))
    #expect(try store.promotionStack() == ["cfg", "v1"])
  }
}

func expectCode(_ code: StoreError.Code, _ body: () throws -> Void) {
  do {
    try body()
    Issue.record("expected a \(code) error")
  } catch let error as StoreError {
    #expect(error.code == code, "\(error.message)")
  } catch { Issue.record("not a StoreError: \(error)") }
}
