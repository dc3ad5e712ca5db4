// The SQLite feedback store: records round-trip, idempotency, references, all-or-none batches,
// group commit, and one process per database.
import Foundation
import Store
import Testing

/// A fresh database in its own temporary directory.
func temporaryStorePath() throws -> String {
  let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("rlhfd-store-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  return directory.appendingPathComponent("feedback.sqlite3").path
}

let png: ImageRef = .bytes(sha256: String(repeating: "ab", count: 32), [0x89, 0x50, 0x4E, 0x47])

func preference(_ prompt: String = "What is it?") -> PreferenceRecord {
  var record = PreferenceRecord(
    image: png,
    prompt: prompt,
    response1: .text("A cat."),
    response2: .text("A dog."),
    preferred: 1
  )
  record.response2Hallucinated = true
  var facts = StoredFacts()
  facts.captions = ["A cat on a sofa."]
  record.facts = facts
  return record
}

func generation(_ id: String) -> GenerationRecord {
  GenerationRecord(
    id: id,
    createdUnixMs: 1_700_000_000_000,
    policyVersion: "base",
    prompt: "Describe it.",
    rawPrompt: false,
    template: "llava15",
    images: [png],
    sampling: StoredSampling(
      maxNewTokens: 8,
      temperature: 0.7,
      topK: 0,
      topP: 0.9,
      repetitionPenalty: 1,
      seed: 42,
      stop: ["\n"]
    ),
    promptTokenCount: 30,
    tokenIds: [5, 17, -1, 31999],
    logprobs: [-0.5, -1.25, -3.0, -0.001],
    text: "A cat",
    finishReason: "LENGTH",
    queueMs: 1.5,
    computeMs: 20.25
  )
}

/// Waits until the background record is committed (bounded).
func waitForGeneration(_ store: SQLiteFeedbackStore, _ id: String) async throws -> GenerationRecord
{
  for _ in 0..<500 {
    if let stored = try store.generation(id: id) { return stored }
    try await Task.sleep(for: .milliseconds(2))
  }
  throw StoreError(.notFound, "generation \(id) never committed")
}

@Suite struct StoreTests {
  @Test func recordsRoundTripAndCountAsPending() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    #expect(try store.integrityCheck() == "ok")
    let ack = try await store.submitPreference(preference(), idempotencyKey: "")
    #expect(ack.ids.count == 1 && ack.ids[0].hasPrefix("pref-") && !ack.duplicate)
    let prompts = [
      PromptRecord(image: png, prompt: "How many?"),
      PromptRecord(image: .sha256(png.sha256), prompt: "Why?"),
    ]
    #expect(try await store.submitPrompts(prompts, idempotencyKey: "").ids.count == 2)
    #expect(store.record(generation("gen-1")))
    let stored = try await waitForGeneration(store, "gen-1")
    var expected = generation("gen-1")
    expected.images = [.sha256(png.sha256)]
    #expect(stored == expected)
    var rating = RatingRecord(generationID: "gen-1", score: -0.5)
    rating.hallucinated = true
    #expect(try await store.submitRating(rating, idempotencyKey: "").ids[0].hasPrefix("rating-"))
    var pending = PendingCounts()
    pending.preferences = 1
    pending.prompts = 2
    pending.ratings = 1
    #expect(try store.pendingCounts() == pending)
  }

  @Test func idempotencyKeysReturnTheOriginalAckOrRefuseOtherContent() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let first = try await store.submitPreference(preference(), idempotencyKey: "k-1")
    let again = try await store.submitPreference(preference(), idempotencyKey: "k-1")
    #expect(again.ids == first.ids && again.duplicate)
    await #expect(throws: StoreError.self) {
      try await store.submitPreference(preference("Other?"), idempotencyKey: "k-1")
    }
    do {
      _ = try await store.submitPreference(preference("Other?"), idempotencyKey: "k-1")
    } catch {
      #expect(error.code == .conflict && error.message.contains("k-1"))
    }
    // Keys are per kind, and no key means a new record every time.
    let prompts = try await store.submitPrompts(
      [PromptRecord(image: png, prompt: "A?")],
      idempotencyKey: "k-1"
    )
    #expect(!prompts.duplicate)
    let unkeyed = try await store.submitPreference(preference(), idempotencyKey: "")
    #expect(unkeyed.ids != first.ids)
    #expect(try store.pendingCounts().preferences == 2)
  }

  @Test func unknownReferencesAreNotFoundAndABatchIsAllOrNone() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    await #expect(throws: StoreError(.notFound, "generation_id 'nope' is not a stored generation"))
    {
      try await store.submitRating(RatingRecord(generationID: "nope", score: 1), idempotencyKey: "")
    }
    var refersToGeneration = preference()
    refersToGeneration.response1 = .generation("missing")
    await #expect(throws: StoreError.self) {
      try await store.submitPreference(refersToGeneration, idempotencyKey: "")
    }
    let batch = [
      PromptRecord(image: png, prompt: "Fine."),
      PromptRecord(image: .sha256(String(repeating: "cd", count: 32)), prompt: "Unknown image."),
    ]
    do {
      _ = try await store.submitPrompts(batch, idempotencyKey: "b")
      Issue.record("an unknown image hash was accepted")
    } catch {
      #expect(error.code == .notFound && error.message.hasPrefix("prompts[1].image.sha256"))
    }
    #expect(try store.pendingCounts() == PendingCounts())
  }

  @Test func concurrentSubmittersShareCommits() async throws {
    // Every submission handed to the writer thread (no inline commits: with fast commits a
    // submitter that finds nobody writing commits alone on its own thread, and these 64 may
    // then never overlap; GroupCommitTests covers the inline leader taking what waits).
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath(), inlineCommitBelow: .zero)
    let acks = try await withThrowingTaskGroup(of: StoreAck.self) { group in
      for index in 0..<64 {
        group.addTask {
          try await store.submitPreference(preference("Q\(index)?"), idempotencyKey: "")
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(Set(acks.flatMap(\.ids)).count == 64)
    #expect(try store.pendingCounts().preferences == 64)
    let counters = store.counters
    #expect(counters.jobs == 64)
    #expect(counters.commits < 64, "64 submissions took \(counters.commits) commits")
  }

  @Test func oneProcessPerDatabaseAndDataSurvivesReopening() async throws {
    let path = try temporaryStorePath()
    var ids: [String] = []
    do {
      let store = try SQLiteFeedbackStore(path: path)
      #expect(throws: StoreError.self) { try SQLiteFeedbackStore(path: path) }
      do { _ = try SQLiteFeedbackStore(path: path) } catch {
        #expect(error.code == .cannotOpen && error.message.contains("in use"))
      }
      ids = try await store.submitPreference(preference(), idempotencyKey: "keep").ids
      store.shutdown()
    }
    let reopened = try SQLiteFeedbackStore(path: path)
    #expect(try reopened.pendingCounts().preferences == 1)
    #expect(try await reopened.submitPreference(preference(), idempotencyKey: "keep").ids == ids)
    #expect(try reopened.integrityCheck() == "ok")
  }
}

@Suite struct StoreBackgroundBoundTests {
  @Test func generationsBeyondTheByteBoundAreDroppedNotQueued() async throws {
    let store = try SQLiteFeedbackStore(
      path: try temporaryStorePath(),
      maxBackgroundRecords: 100,
      maxBackgroundBytes: 1 << 20
    )
    var big = generation("gen-big")
    big.images = [
      .bytes(sha256: String(repeating: "cd", count: 32), Array(repeating: 1, count: 2 << 20))
    ]
    #expect(!store.record(big))
    #expect(store.counters.dropped == 1)
    #expect(store.record(generation("gen-small")))
    _ = try await waitForGeneration(store, "gen-small")
    #expect(try store.generation(id: "gen-big") == nil)
  }
}
