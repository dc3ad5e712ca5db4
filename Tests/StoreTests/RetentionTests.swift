// Retention of generations: each limit (count, bytes, age) prunes the oldest unreferenced
// generations; feedback's generations and images are never pruned; passes run in bounded
// transactions; the worker runs passes until stopped; consumed marks.
import Foundation
import Store
import Testing

/// `count` generations created a second apart from `start`, each with its own image, committed.
func storeGenerations(
  _ store: SQLiteFeedbackStore,
  _ count: Int,
  prefix: String = "g",
  start: Int64 = 1_700_000_000_000
) async throws -> [String] {
  var ids: [String] = []
  for index in 0..<count {
    var record = generation("\(prefix)\(index)")
    record.createdUnixMs = start + Int64(index) * 1000
    let hash = String(format: "%064x", index + 1) + ""
    record.images = [.bytes(sha256: "\(prefix)-\(hash)", [UInt8](repeating: 7, count: 100))]
    #expect(store.record(record))
    ids.append(record.id)
  }
  _ = try await waitForGeneration(store, ids.last!)
  return ids
}

func remaining(_ store: SQLiteFeedbackStore, _ ids: [String]) throws -> [String] {
  try ids.filter { try store.generation(id: $0) != nil }
}

@Suite struct RetentionTests {
  @Test func theCountLimitKeepsTheNewest() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let ids = try await storeGenerations(store, 10)
    var policy = RetentionPolicy()
    policy.maxGenerations = 4
    let report = try store.prune(policy, nowUnixMs: 1_800_000_000_000)
    #expect(report.generations == 6 && report.images == 6)
    #expect(try remaining(store, ids) == Array(ids.suffix(4)))
    #expect(try store.usage().count == 4)
    #expect(try store.integrityCheck() == "ok")
  }

  @Test func theAgeLimitPrunesOlderGenerations() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let ids = try await storeGenerations(store, 10)
    var policy = RetentionPolicy()
    policy.maxAgeMs = 4500  // cut-off = the 6th one + 0.5 s: the newest 4 are younger
    let report = try store.prune(policy, nowUnixMs: 1_700_000_010_000)
    #expect(report.generations == 6)
    #expect(try remaining(store, ids) == Array(ids.suffix(4)))
  }

  @Test func theByteLimitPrunesOldestUntilUnderIt() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let ids = try await storeGenerations(store, 10)
    let before = try store.usage()
    #expect(before.count == 10 && before.bytes > 10 * 100)
    var policy = RetentionPolicy()
    policy.maxBytes = before.bytes / 2
    policy.batchSize = 3
    _ = try store.prune(policy, nowUnixMs: 1_800_000_000_000)
    let after = try store.usage()
    #expect(after.bytes <= policy.maxBytes && after.bytes > policy.maxBytes / 2)
    let kept = try remaining(store, ids)
    #expect(kept == Array(ids.suffix(kept.count)))  // the oldest went first
    #expect(kept.count == 5)
  }

  @Test func feedbackKeepsItsGenerationsAndImagesConsumedOrNot() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let ids = try await storeGenerations(store, 6)
    var pref = preference()
    pref.response1 = .generation(ids[0])
    let preferred = try await store.submitPreference(pref, idempotencyKey: "")
    let rating = try await store.submitRating(
      RatingRecord(generationID: ids[1], score: 1),
      idempotencyKey: ""
    )
    // The prompt uses generation 2's image (by hash): the image stays, the generation goes.
    let image = try #require(try store.generation(id: ids[2])?.images.first?.sha256)
    _ = try await store.submitPrompts(
      [PromptRecord(image: .sha256(image), prompt: "Why?")],
      idempotencyKey: ""
    )
    #expect(try await store.markConsumed(.rating, ids: rating.ids) == rating.ids)
    var policy = RetentionPolicy()
    policy.maxGenerations = 1
    policy.maxAgeMs = 1
    policy.maxBytes = 1
    let report = try store.prune(policy, nowUnixMs: 1_800_000_000_000)
    #expect(report.generations == 4)
    #expect(try remaining(store, ids) == [ids[0], ids[1]])
    #expect(try store.image(sha256: image) != nil)
    #expect(try store.image(sha256: png.sha256) != nil)  // the preference's image
    #expect(report.images == 3)  // generations 3, 4, 5's images
    // The preference, still pending, and the consumed rating are intact.
    #expect(try store.pendingCounts().preferences == 1)
    #expect(try await store.markConsumed(.preference, ids: preferred.ids) == preferred.ids)
    #expect(try store.prune(policy, nowUnixMs: 1_800_000_000_000).generations == 0)
    #expect(try remaining(store, ids) == [ids[0], ids[1]])
    #expect(try store.integrityCheck() == "ok")
  }

  @Test func passesRunInBoundedTransactionsBesideSubmissions() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let ids = try await storeGenerations(store, 20)
    var policy = RetentionPolicy()
    policy.maxAgeMs = 1
    policy.batchSize = 3
    async let submitted = store.submitPreference(preference(), idempotencyKey: "during")
    let report = try store.prune(policy, nowUnixMs: 1_800_000_000_000)
    #expect(report.generations == 20)
    #expect(report.transactions >= 7)  // ceil(20 / 3) for the generations, at most 3 each
    #expect(try remaining(store, ids).isEmpty)
    #expect(try await submitted.ids.count == 1)
  }

  @Test func orphanImagesGoAndUnlimitedPolicyKeepsEverything() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let ids = try await storeGenerations(store, 3)
    #expect(try store.prune(RetentionPolicy(), nowUnixMs: 1_800_000_000_000) == PruneReport())
    #expect(try remaining(store, ids) == ids)
  }

  @Test func theWorkerPrunesUntilStopped() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let ids = try await storeGenerations(store, 5)
    var policy = RetentionPolicy()
    policy.maxGenerations = 2
    let reports = Reports()
    let worker = RetentionWorker(store: store, policy: policy, interval: 0.02) {
      reports.append($0)
    }
    for _ in 0..<500 where worker.completedPasses < 2 {
      try await Task.sleep(for: .milliseconds(5))
    }
    worker.stop()
    let passes = worker.completedPasses
    #expect(passes >= 2)
    #expect(try remaining(store, ids) == Array(ids.suffix(2)))
    try await Task.sleep(for: .milliseconds(50))
    #expect(worker.completedPasses == passes)  // stopped
    #expect(reports.pruned == 3)
  }

  @Test func consumedMarksCountOnceAndIgnoreUnknownIds() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let prompts = try await store.submitPrompts(
      [PromptRecord(image: png, prompt: "A?"), PromptRecord(image: png, prompt: "B?")],
      idempotencyKey: ""
    )
    #expect(try store.pendingCounts().prompts == 2)
    let marked = try await store.markConsumed(.prompt, ids: [prompts.ids[0], "prompt-unknown"])
    #expect(marked == [prompts.ids[0]])
    #expect(try await store.markConsumed(.prompt, ids: [prompts.ids[0]]).isEmpty)
    #expect(try store.pendingCounts().prompts == 1)
  }
}

/// Reports of the worker's passes (it calls back on its own thread).
final class Reports: @unchecked Sendable {
  private let lock = NSLock()
  private var results: [Result<PruneReport, StoreError>] = []

  func append(_ result: Result<PruneReport, StoreError>) {
    lock.lock()
    results.append(result)
    lock.unlock()
  }

  var pruned: Int {
    lock.lock()
    defer { lock.unlock() }
    return results.reduce(0) { $0 + ((try? $1.get())?.generations ?? 0) }
  }
}
