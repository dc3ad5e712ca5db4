// Group commit's cheap paths keep the guarantees: a failing submission in a batch fails alone
// (the batch is run again in savepoints), fingerprints are stable across processes and still
// match the legacy (JSON) form stored by older versions, ids are time-ordered UUIDs.
import Foundation
import GRDB
import Synchronization
import Testing

@testable import Store

final class StartedFlag: Sendable {
  private let value = Atomic<Bool>(false)
  var isSet: Bool { value.load(ordering: .acquiring) }
  func set() { value.store(true, ordering: .releasing) }
}

@Suite struct GroupCommitTests {
  @Test func aFailingSubmissionInABatchFailsAloneAndOthersAreAcknowledged() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    var bad = preference("Bad?")
    bad.response1 = .generation("missing")
    let results = await store.submitPreferences([
      (preference("One?"), "a"), (bad, "b"), (preference("Two?"), "c"),
    ])
    #expect(results.count == 3)
    #expect((try? results[0].get())?.ids.count == 1)
    #expect((try? results[2].get())?.ids.count == 1)
    guard case .failure(let error) = results[1] else {
      Issue.record("a reference to a missing generation was acknowledged")
      return
    }
    #expect(error.code == .notFound)
    #expect(try store.pendingCounts().preferences == 2)
    // The failed one's key was not taken: it can be used for a good submission.
    let retried = try await store.submitPreference(preference("Bad?"), idempotencyKey: "b")
    #expect(!retried.duplicate)
  }

  @Test func submissionsWaitingBehindAnInlineCommitShareTheNextOne() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let committer = store.committer
    // The test waits without blocking a cooperative thread (on 2 cores the pool has 2, and the
    // first submission holds one of them while it waits for `release`).
    let started = StartedFlag()
    let release = DispatchSemaphore(value: 0)
    // The first submission commits inline (nobody is writing) and holds its transaction open.
    let first = Task {
      try await committer.submit { _ in
        started.set()
        _ = release.wait(timeout: .now() + 5)
        return StoreAck(ids: ["first"])
      }
    }
    for _ in 0..<5000 where !started.isSet {
      try await Task.sleep(for: .milliseconds(1))
    }
    #expect(started.isSet, "the first submission never started")
    let waiting = (0..<3).map { i in
      Task { try await committer.submit { _ in StoreAck(ids: ["w\(i)"]) } }
    }
    try await Task.sleep(for: .milliseconds(100))  // the three queue behind it
    release.signal()
    #expect(try await first.value.ids == ["first"])
    for (i, task) in waiting.enumerated() { #expect(try await task.value.ids == ["w\(i)"]) }
    let counters = store.counters
    #expect(counters.jobs == 4)
    #expect(counters.commits == 2, "4 submissions took \(counters.commits) commits")
  }

  @Test func fingerprintsAreStableAndSeparateFields() {
    #expect(Fingerprint.of(preference()) == "v2-fe0f00a80da449afc180009526c9eae2")
    var split = preference("ab")
    split.response1 = .text("c")
    var other = preference("a")
    other.response1 = .text("bc")
    #expect(Fingerprint.of(split) != Fingerprint.of(other))
    var flagged = preference()
    flagged.datasetFlag = true
    #expect(Fingerprint.of(flagged) != Fingerprint.of(preference()))
    #expect(Fingerprint.of(preference()) == Fingerprint.of(preference()))
  }

  @Test func keysStoredWithTheLegacyFingerprintStayIdempotent() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let first = try await store.submitPreference(preference(), idempotencyKey: "old")
    // As an older rlhfd wrote it: the JSON fingerprint, no prefix.
    try await store.pool.write { db in
      try db.execute(
        sql: "UPDATE idempotency SET content_hash = ? WHERE key = 'old'",
        arguments: [Fingerprint.legacy(preference())]
      )
    }
    let again = try await store.submitPreference(preference(), idempotencyKey: "old")
    #expect(again.duplicate && again.ids == first.ids)
    await #expect(throws: StoreError.self) {
      try await store.submitPreference(preference("Other?"), idempotencyKey: "old")
    }
  }

  @Test func idsAreTimeOrderedVersion7UUIDs() throws {
    let before = Int64(Date().timeIntervalSince1970 * 1000)
    let id = SQLiteFeedbackStore.newID("pref")
    let uuid = String(id.dropFirst(5))
    #expect(id.hasPrefix("pref-") && UUID(uuidString: uuid) != nil)
    #expect(uuid == uuid.lowercased())
    let parts = uuid.split(separator: "-")
    #expect(parts[2].hasPrefix("7") && "89ab".contains(parts[3].first!))
    let ms = Int64(parts[0] + parts[1], radix: 16)!
    #expect(abs(ms - before) < 5_000)
    let later = (0..<50).map { _ in SQLiteFeedbackStore.newID("x") }
    #expect(later.allSatisfy { String($0.prefix(15)) >= String(("x-" + uuid).prefix(15)) })
  }
}
