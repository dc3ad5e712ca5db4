// Internal versions (the trainer's live policy): in memory only (never journaled), not listed,
// never promoted or retired, acquired by exact id only; removal stops new requests at once and
// drops the version when its last request ends; ids are never reused.
import ServingTypes
import Synchronization
import Testing

@testable import Serving

@Suite struct InternalVersionsTests {
  @Test func internalVersionsAreServedByIdOnlyAndNeverJournaled() throws {
    let journal = RecordingJournal()
    let versions = PolicyVersions(base: baseInfo, journal: journal)
    let live = try versions.registerInternal(id: "live-1", parent: "base", adapter: FakeAdapter())
    #expect(live.source == PolicyVersionInfo.internalSource && live.adapterPath == nil)
    #expect(journal.log.withLock { $0 }.isEmpty)
    #expect(versions.listing().versions.map(\.id) == ["base"])
    #expect(versions.internalVersions().map(\.id) == ["live-1"])
    #expect(versions.isInternal("live-1") && !versions.isInternal("base"))
    let lease = try versions.acquire("live-1")
    #expect(lease.id == "live-1" && lease.adapter != nil)
    #expect(try versions.acquire("").id == "base")
    expectBackend(.failedPrecondition) { _ = try versions.promote("live-1") }
    expectBackend(.failedPrecondition) { try versions.retire("live-1") }
    expectBackend(.failedPrecondition) { _ = try versions.rollback(to: "live-1") }
    // A persistent version cannot derive from one a restart would not know.
    expectBackend(.failedPrecondition) {
      try versions.register(info("v1", parent: "live-1"), adapter: FakeAdapter())
    }
    expectBackend(.alreadyExists) {
      try versions.registerInternal(id: "base", parent: "", adapter: FakeAdapter())
    }
    expectBackend(.notFound) {
      try versions.registerInternal(id: "live-2", parent: "nope", adapter: FakeAdapter())
    }
    expectBackend(.invalidArgument) {
      try versions.registerInternal(id: "a/b", parent: "base", adapter: FakeAdapter())
    }
    expectBackend(.failedPrecondition) { try versions.removeInternal(id: "base") }
    #expect(journal.log.withLock { $0 }.isEmpty)
    lease.release()
  }

  @Test func removalWaitsForTheRequestsOnTheVersionAndTheIdIsNeverReused() throws {
    let versions = PolicyVersions(base: baseInfo)
    try versions.registerInternal(id: "live-1", parent: "base", adapter: FakeAdapter())
    let first = try versions.acquire("live-1")
    let second = try versions.acquire("live-1")
    // The next live version comes in; the previous one is removed while two requests use it.
    try versions.replaceInternal("live-1", with: "live-2", parent: "base", adapter: FakeAdapter())
    #expect(versions.inUse("live-1") == 2)
    #expect(versions.internalVersions().map(\.id) == ["live-2"])
    expectBackend(.notFound) { _ = try versions.acquire("live-1") }
    expectBackend(.notFound) { try versions.removeInternal(id: "live-1") }
    #expect(first.adapter != nil)  // the running requests keep their adapter
    first.release()
    #expect(versions.inUse("live-1") == 1)
    second.release()
    #expect(versions.inUse("live-1") == 0)
    expectBackend(.notFound) { _ = try versions.acquire("live-1") }
    // Never reused, internal or not: the id salts KV blocks that may still be cached.
    expectBackend(.alreadyExists) {
      try versions.registerInternal(id: "live-1", parent: "base", adapter: FakeAdapter())
    }
    expectBackend(.alreadyExists) { try versions.register(info("live-1"), adapter: FakeAdapter()) }
    // Not in use: removed at once.
    #expect(try versions.removeInternal(id: "live-2") == 0)
    #expect(versions.internalVersions().isEmpty)
    #expect(versions.listing().versions.map(\.id) == ["base"])
  }

  @Test func aFailedReplacementRemovesNothing() throws {
    let versions = PolicyVersions(base: baseInfo)
    try versions.registerInternal(id: "live-1", parent: "base", adapter: FakeAdapter())
    expectBackend(.alreadyExists) {
      try versions.replaceInternal("live-1", with: "base", parent: "base", adapter: FakeAdapter())
    }
    #expect(versions.internalVersions().map(\.id) == ["live-1"])
  }
}
