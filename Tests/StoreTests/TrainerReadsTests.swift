// What the trainer reads: unconsumed feedback oldest first up to a limit, feedback by id in
// the order asked, preferences' prompts after a cursor, ratings with their generations (and
// without one that is gone), and consumed marks for every kind.
import Foundation
import GRDB
import Store
import Testing

/// Submits preferences one at a time (so that their order is the submission order); their ids.
func submitPreferences(_ store: SQLiteFeedbackStore, _ prompts: [String]) async throws -> [String] {
  var ids: [String] = []
  for prompt in prompts {
    ids += try await store.submitPreference(preference(prompt), idempotencyKey: "").ids
  }
  return ids
}

/// One rating per generation id, in order, each scored `score`; their ids.
func submitRatings(_ store: SQLiteFeedbackStore, _ generations: [String], score: Float = 0.5)
  async throws -> [String]
{
  var ids: [String] = []
  for id in generations {
    ids += try await store.submitRating(
      RatingRecord(generationID: id, score: score),
      idempotencyKey: ""
    )
    .ids
  }
  return ids
}

@Suite struct TrainerReadsTests {
  @Test func unconsumedFeedbackComesOldestFirstUpToTheLimit() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let preferences = try await submitPreferences(store, ["A?", "B?", "C?", "D?"])
    let prompts = try await store.submitPrompts(
      ["P?", "Q?", "R?"].map { PromptRecord(image: png, prompt: $0) },
      idempotencyKey: ""
    ).ids
    _ = try await store.markConsumed(.preference, ids: [preferences[1]])
    _ = try await store.markConsumed(.prompt, ids: [prompts[0]])

    let pending = try store.unconsumedPreferences(limit: 10)
    #expect(pending.map(\.id) == [preferences[0], preferences[2], preferences[3]])
    #expect(pending.map(\.record.prompt) == ["A?", "C?", "D?"])
    #expect(
      try store.unconsumedPreferences(limit: 2).map(\.id) == [preferences[0], preferences[2]]
    )
    #expect(try store.unconsumedPreferences(limit: 0).isEmpty)
    #expect(try store.unconsumedPreferences(limit: -1).isEmpty)  // not SQLite's "no limit"
    // The same records as export reads.
    var exported: [StoredPreference] = []
    try store.forEachPreference { if !$0.consumed { exported.append($0) } }
    #expect(exported == pending)

    #expect(try store.unconsumedPrompts(limit: 10).map(\.id) == [prompts[1], prompts[2]])
    #expect(try store.unconsumedPrompts(limit: 1).map(\.record.prompt) == ["Q?"])
    var exportedPrompts: [StoredPrompt] = []
    try store.forEachPrompt { if !$0.consumed { exportedPrompts.append($0) } }
    #expect(exportedPrompts == (try store.unconsumedPrompts(limit: 10)))
  }

  @Test func feedbackByIDKeepsTheOrderAskedAndSkipsUnknownIds() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let preferences = try await submitPreferences(store, ["A?", "B?", "C?"])
    _ = try await store.markConsumed(.preference, ids: [preferences[0]])
    let asked = [preferences[2], "pref-unknown", preferences[0], preferences[2]]
    let found = try store.preferences(ids: asked)
    #expect(found.map(\.id) == [preferences[2], preferences[0], preferences[2]])
    #expect(found.map(\.consumed) == [false, true, false])
    #expect(try store.preferences(ids: []).isEmpty)
    // More ids than one statement takes (read in chunks).
    let many = (0..<1200).map { "pref-\($0)" } + [preferences[1]]
    #expect(try store.preferences(ids: many).map(\.record.prompt) == ["B?"])

    let prompts = try await store.submitPrompts(
      ["P?", "Q?"].map { PromptRecord(image: png, prompt: $0) },
      idempotencyKey: ""
    ).ids
    #expect(try store.prompts(ids: [prompts[1], "x", prompts[0]]).map(\.id) == prompts.reversed())

    store.record(generation("g1"))
    _ = try await waitForGeneration(store, "g1")
    let ratings = try await submitRatings(store, ["g1", "g1"])
    #expect(try store.ratings(ids: ratings.reversed() + ["r"]).map(\.id) == ratings.reversed())
  }

  @Test func preferencePromptsComeAfterTheCursorConsumedOrNot() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let ids = try await submitPreferences(store, ["A?", "B?", "C?", "D?"])
    _ = try await store.markConsumed(.preference, ids: [ids[1]])
    var plain = preference("E?")
    plain.facts = nil
    let last = try await store.submitPreference(plain, idempotencyKey: "").ids[0]

    let all = try store.preferencePrompts(after: 0, limit: 10)
    #expect(all.map(\.id) == ids + [last])  // the consumed one too
    #expect(all.map(\.record.prompt) == ["A?", "B?", "C?", "D?", "E?"])
    #expect(all.map(\.row) == all.map(\.row).sorted() && Set(all.map(\.row)).count == 5)
    #expect(all[0].record.image == .sha256(png.sha256))
    #expect(all[0].record.facts?.captions == ["A cat on a sofa."])
    #expect(all[0].record.lengthBonus == 1)
    #expect(all[4].record.facts == nil)
    // After a cursor: the rows past it, up to the limit.
    let next = try store.preferencePrompts(after: all[1].row, limit: 2)
    #expect(next.map(\.id) == [ids[2], ids[3]])
    #expect(try store.preferencePrompts(after: all[4].row, limit: 10).isEmpty)
    #expect(try store.preferencePrompts(after: 0, limit: 0).isEmpty)
    #expect(try store.preferencePrompts(after: 0, limit: -1).isEmpty)
  }

  @Test func ratingsComeWithTheirGenerations() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    var first = generation("g1")
    first.images = [png, .bytes(sha256: String(repeating: "cd", count: 32), [1, 2, 3])]
    var second = generation("g2")
    second.images = []
    second.rawPrompt = true
    second.policyVersion = "v7"
    second.text = "A dog"
    second.tokenIds = [9]
    store.record(first)
    store.record(second)
    _ = try await waitForGeneration(store, "g2")
    var rating = RatingRecord(generationID: "g1", score: 0.75)
    rating.hallucinated = true
    let r1 = try await store.submitRating(rating, idempotencyKey: "").ids[0]
    let r2 = try await submitRatings(store, ["g2"], score: -1)[0]
    let r3 = try await submitRatings(store, ["g1"], score: 0)[0]

    let ratings = try store.unconsumedRatings(limit: 10)
    #expect(ratings.map(\.id) == [r1, r2, r3])
    #expect(ratings.map(\.score) == [0.75, -1, 0])
    #expect(ratings.map(\.hallucinated) == [true, nil, nil])
    #expect(ratings.map(\.generationID) == ["g1", "g2", "g1"])
    #expect(!ratings[0].consumed && ratings[0].createdUnixMs > 1_700_000_000_000)
    let rated = try #require(ratings[0].generation)
    #expect(rated.images == [.sha256(png.sha256), .sha256(String(repeating: "cd", count: 32))])
    #expect(rated.prompt == first.prompt && rated.template == first.template && !rated.rawPrompt)
    #expect(rated.tokenIds == first.tokenIds && rated.text == "A cat")
    #expect(rated.policyVersion == "base")
    #expect(
      ratings[1].generation
        == RatedGenerationRecord(
          policyVersion: "v7",
          prompt: "Describe it.",
          rawPrompt: true,
          template: "llava15",
          images: [],
          tokenIds: [9],
          text: "A dog"
        )
    )
    #expect(ratings[2].generation == ratings[0].generation)
    #expect(try store.unconsumedRatings(limit: 1).map(\.id) == [r1])
    _ = try await store.markConsumed(.rating, ids: [r1, r3])
    #expect(try store.unconsumedRatings(limit: 10).map(\.id) == [r2])
    #expect(try store.ratings(ids: [r3]).map(\.consumed) == [true])
  }

  @Test func aRatingWhoseGenerationIsGoneComesWithoutIt() async throws {
    let path = try temporaryStorePath()
    var ids: [String] = []
    do {
      let store = try SQLiteFeedbackStore(path: path)
      store.record(generation("g1"))
      store.record(generation("g2"))
      _ = try await waitForGeneration(store, "g2")
      ids = try await submitRatings(store, ["g1", "g2"])
      store.shutdown()
    }
    // Only a hand-edited database has one: retention keeps rated generations, and the foreign
    // key refuses the delete.
    var configuration = Configuration()
    configuration.foreignKeysEnabled = false
    try await DatabaseQueue(path: path, configuration: configuration).write { db in
      try db.execute(sql: "DELETE FROM generations WHERE id = 'g1'")
    }
    let store = try SQLiteFeedbackStore(path: path)
    let ratings = try store.unconsumedRatings(limit: 10)
    #expect(ratings.map(\.id) == ids)
    #expect(ratings[0].generation == nil && ratings[0].generationID == "g1")
    #expect(ratings[1].generation?.text == "A cat")
  }

  @Test func everyKindOfFeedbackIsMarkedConsumedOnce() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    store.record(generation("g1"))
    _ = try await waitForGeneration(store, "g1")
    let ids: [FeedbackKind: [String]] = [
      .preference: try await submitPreferences(store, ["A?"]),
      .prompt: try await store.submitPrompts(
        [PromptRecord(image: png, prompt: "P?")],
        idempotencyKey: ""
      )
      .ids,
      .rating: try await submitRatings(store, ["g1"]),
    ]
    #expect(Set(ids.keys) == Set(FeedbackKind.allCases))
    for kind in FeedbackKind.allCases {
      #expect(try await store.markConsumed(kind, ids: ids[kind]! + ["unknown"]) == ids[kind]!)
      #expect(try await store.markConsumed(kind, ids: ids[kind]!).isEmpty)
    }
    #expect(try store.pendingCounts() == PendingCounts())
    #expect(try store.unconsumedPreferences(limit: 5).isEmpty)
    #expect(try store.unconsumedPrompts(limit: 5).isEmpty)
    #expect(try store.unconsumedRatings(limit: 5).isEmpty)
  }
}
