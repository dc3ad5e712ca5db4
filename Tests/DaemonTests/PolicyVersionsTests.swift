// The policy-version registry of serving: leases pin a version (retire refused while one is
// held), promotion and rollback follow a stack, the journal sees each change before memory does,
// and the runner routes pinned and promoted requests to their version (tokens are the base
// model's until the engine applies adapters: these tests check routing, not logits).
import Foundation
import Services
import ServingTypes
import Synchronization
import Testing

@testable import Serving

final class FakeAdapter: PolicyAdapter {
  var byteCount: Int { 0 }
}

final class RecordingJournal: PolicyVersionJournal {
  let log = Mutex<[String]>([])
  let failing = Atomic<Bool>(false)

  private func note(_ entry: String) throws(BackendError) {
    if failing.load(ordering: .relaxed) { throw BackendError(.unavailable, "disk gone") }
    log.withLock { $0.append(entry) }
  }

  func registered(_ version: PolicyVersionInfo) throws(BackendError) {
    try note("register \(version.id)")
  }
  func promoted(_ id: String) throws(BackendError) { try note("promote \(id)") }
  func rolledBack(to id: String) throws(BackendError) { try note("rollback \(id)") }
  func retired(_ id: String) throws(BackendError) { try note("retire \(id)") }
}

func info(_ id: String, parent: String = "base", created: Int64 = 1) -> PolicyVersionInfo {
  PolicyVersionInfo(
    id: id,
    parent: parent,
    source: "admin",
    adapterPath: "/a/\(id)",
    createdUnixMs: created
  )
}

let baseInfo = PolicyVersionInfo(
  id: "base",
  parent: "",
  source: "base",
  adapterPath: nil,
  createdUnixMs: 0
)

func expectBackend(_ code: BackendError.Code, _ body: () throws -> Void) {
  do {
    try body()
    Issue.record("expected \(code)")
  } catch let error as BackendError {
    #expect(error.code == code, "\(error.message)")
  } catch { Issue.record("not a BackendError: \(error)") }
}

@Suite struct PolicyVersionsTests {
  @Test func leasesPinTheVersionAndBlockRetirement() throws {
    let versions = PolicyVersions(base: baseInfo)
    try versions.register(info("v1"), adapter: FakeAdapter())
    let onBase = try versions.acquire("")
    #expect(onBase.id == "base" && onBase.adapter == nil)
    _ = try versions.promote("v1")
    let promoted = try versions.acquire("")
    #expect(promoted.id == "v1" && promoted.adapter != nil)
    #expect(onBase.id == "base")  // a request keeps the version it started with
    _ = try versions.promote("base")
    #expect(versions.inUse("v1") == 1)
    expectBackend(.failedPrecondition) { try versions.retire("v1") }
    promoted.release()
    promoted.release()  // once only
    #expect(versions.inUse("v1") == 0)
    try versions.retire("v1")
    expectBackend(.notFound) { _ = try versions.acquire("v1") }
    expectBackend(.alreadyExists) { try versions.register(info("v1"), adapter: FakeAdapter()) }
    do {
      _ = try versions.acquire("nope")
      Issue.record("an unknown version was served")
    } catch {
      #expect(error.code == .notFound && error.message.contains("'nope'"))
    }
  }

  @Test func droppedLeasesReleaseTheirVersion() throws {
    let versions = PolicyVersions(base: baseInfo)
    try versions.register(info("v1"), adapter: FakeAdapter())
    do { _ = try versions.acquire("v1") }
    #expect(versions.inUse("v1") == 0)
  }

  @Test func promotionsFormAStack() throws {
    let versions = PolicyVersions(base: baseInfo)
    for id in ["v1", "v2"] { try versions.register(info(id), adapter: FakeAdapter()) }
    expectBackend(.failedPrecondition) { _ = try versions.rollback(to: "") }
    #expect(try versions.promote("v1") == PromotionChange(previous: "base", promoted: "v1"))
    #expect(try versions.promote("v2") == PromotionChange(previous: "v1", promoted: "v2"))
    #expect(try versions.rollback(to: "") == PromotionChange(previous: "v2", promoted: "v1"))
    _ = try versions.promote("v2")
    #expect(try versions.rollback(to: "base") == PromotionChange(previous: "v2", promoted: "base"))
    expectBackend(.failedPrecondition) { _ = try versions.rollback(to: "v1") }  // popped
    expectBackend(.failedPrecondition) { try versions.retire("base") }
    expectBackend(.failedPrecondition) { _ = try versions.rollback(to: "base") }
    expectBackend(.notFound) { _ = try versions.promote("v9") }
    _ = try versions.promote("v1")
    expectBackend(.failedPrecondition) { try versions.retire("v1") }
    #expect(versions.listing().promoted == "v1")
  }

  @Test func theJournalSeesEachChangeAndAFailureChangesNothing() throws {
    let journal = RecordingJournal()
    let versions = PolicyVersions(base: baseInfo, journal: journal)
    try versions.register(info("v1", created: 5), adapter: FakeAdapter())
    _ = try versions.promote("v1")
    _ = try versions.rollback(to: "")
    try versions.retire("v1")
    #expect(
      journal.log.withLock { $0 } == ["register v1", "promote v1", "rollback base", "retire v1"]
    )
    journal.failing.store(true, ordering: .relaxed)
    expectBackend(.unavailable) { try versions.register(info("v2"), adapter: FakeAdapter()) }
    #expect(versions.listing().versions.map(\.id) == ["base"])
    expectBackend(.notFound) {
      try versions.register(info("v3", parent: "zz"), adapter: FakeAdapter())
    }
  }

  @Test func restoreRebuildsVersionsAndThePromotedOne() throws {
    let versions = PolicyVersions(base: baseInfo)
    versions.restore(
      [(info("v1", created: 1), FakeAdapter()), (info("v2", created: 2), FakeAdapter())],
      retired: ["old"],
      stack: ["base", "v1", "gone", "v2"]
    )
    #expect(versions.listing().versions.map(\.id) == ["v2", "v1", "base"])
    #expect(versions.promoted == "v2")
    #expect(try versions.rollback(to: "") == PromotionChange(previous: "v2", promoted: "v1"))
    expectBackend(.alreadyExists) { try versions.register(info("old"), adapter: FakeAdapter()) }
  }

  @Test func prefixKeysDifferPerVersion() throws {
    let versions = PolicyVersions(base: baseInfo)
    try versions.register(info("v1"), adapter: FakeAdapter())
    let (a, b) = (try versions.acquire("base"), try versions.acquire("v1"))
    #expect(a.salt != b.salt)
    #expect(SequenceKeys.token(5, salt: a.salt) != SequenceKeys.token(5, salt: b.salt))
    #expect(a.salt == SequenceKeys.salt("policy:base"))  // the base keeps its keys
  }
}
