// Migrations: a database at every earlier schema migrates to the newest one with its data; the
// trainer's reads of unconsumed feedback use their indexes.
import Foundation
import GRDB
import Testing

@testable import Store

@Suite struct SchemaTests {
  @Test func aVersion1DatabaseMigratesWithItsData() async throws {
    let path = try temporaryStorePath()
    try Schema.migrate(
      path: path,
      upTo: Schema.v1Name,
      thenExecute: """
        INSERT INTO images VALUES ('aa', x'89504e47', 1);
        INSERT INTO preferences (id, created_unix_ms, image_sha256, prompt, response_1,
          response_2, preferred, response_1_hallucinated, response_2_hallucinated, dataset_flag)
        VALUES ('pref-v1', 1, 'aa', 'Q?', 'A', 'B', 1, 0, 1, 0);
        """
    )
    #expect(try !Schema.indexNames(path: path).contains("ratings_generation"))
    do {
      let store = try SQLiteFeedbackStore(path: path)  // migrates
      _ = try await store.submitPreference(preference(), idempotencyKey: "old")
      store.shutdown()
    }
    let indexes = try Schema.indexNames(path: path)
    for name in ["ratings_generation", "generation_images_image", "prompts_image"] {
      #expect(indexes.contains(name))
    }
    let store = try SQLiteFeedbackStore(path: path)
    #expect(try store.pendingCounts().preferences == 2)
    var v1 = 0
    try store.forEachPreference { if $0.id == "pref-v1" && $0.text2 == "B" { v1 += 1 } }
    #expect(v1 == 1)
    #expect(try await store.submitPreference(preference(), idempotencyKey: "old").duplicate)
    #expect(try store.integrityCheck() == "ok")
  }

  @Test func aVersion3DatabaseKeepsItsLengthBonusesAndTheDefaultBecomesOne() async throws {
    let path = try temporaryStorePath()
    try Schema.migrate(
      path: path,
      upTo: Schema.v3Name,
      thenExecute: """
        INSERT INTO images VALUES ('aa', x'89504e47', 1);
        INSERT INTO prompts (id, batch_id, created_unix_ms, image_sha256, prompt, facts,
          length_bonus, client_id)
        VALUES ('p-default', 'b', 1, 'aa', 'Q?', NULL, 0, ''),
               ('p-quarter', 'b', 2, 'aa', 'R?', NULL, 0.25, '');
        """
    )
    let store = try SQLiteFeedbackStore(path: path)  // migrates
    var bonuses: [String: Float] = [:]
    try store.forEachPrompt { bonuses[$0.record.prompt] = $0.record.lengthBonus }
    #expect(bonuses == ["Q?": 1, "R?": 0.25])
    #expect(try store.integrityCheck() == "ok")
  }

  @Test func aVersion4DatabaseGetsTheTrainerTablesKeepingItsFeedback() async throws {
    let path = try temporaryStorePath()
    try Schema.migrate(
      path: path,
      upTo: Schema.v4Name,
      thenExecute: """
        INSERT INTO images VALUES ('aa', x'89504e47', 1);
        INSERT INTO generations (id, created_unix_ms, policy_version, prompt, raw_prompt,
          template, sampling, prompt_token_count, token_ids, logprobs, text, finish_reason,
          queue_ms, compute_ms)
        VALUES ('g-old', 1, 'base', 'Hi', 0, 'llava15', '{}', 3, x'0500000006000000',
          x'0000803f00000040', 'ab', 'LENGTH', 0.5, 1.5);
        INSERT INTO generation_images VALUES ('g-old', 0, 'aa');
        INSERT INTO ratings (id, created_unix_ms, generation_id, score, hallucinated)
          VALUES ('rating-old', 2, 'g-old', -0.5, 1);
        INSERT INTO preferences (id, created_unix_ms, image_sha256, prompt, response_1,
          response_2, preferred, response_1_hallucinated, response_2_hallucinated, dataset_flag,
          consumed_unix_ms)
        VALUES ('pref-used', 1, 'aa', 'Q?', 'A', 'B', 1, 0, 1, 0, 5),
               ('pref-new', 2, 'aa', 'R?', 'C', 'D', 2, 0, 0, 0, NULL);
        INSERT INTO prompts (id, batch_id, created_unix_ms, image_sha256, prompt, facts,
          length_bonus, client_id)
        VALUES ('p-old', 'b', 1, 'aa', 'P?', NULL, 1, '');
        """
    )
    #expect(try !Schema.indexNames(path: path).contains("ratings_unconsumed"))
    let store = try SQLiteFeedbackStore(path: path)  // migrates
    let indexes = try Schema.indexNames(path: path)
    for name in ["preferences_unconsumed", "prompts_unconsumed", "ratings_unconsumed"] {
      #expect(indexes.contains(name))
    }
    #expect(try store.unconsumedPreferences(limit: 5).map(\.id) == ["pref-new"])
    #expect(try store.unconsumedPrompts(limit: 5).map(\.id) == ["p-old"])
    let rating = try #require(try store.unconsumedRatings(limit: 5).first)
    #expect(rating.id == "rating-old" && rating.score == -0.5 && rating.hallucinated == true)
    #expect(rating.generation?.tokenIds == [5, 6] && rating.generation?.images == [.sha256("aa")])
    #expect(try store.trainerCheckpoints().isEmpty && store.rewardModelVersions().isEmpty)
    let marked = try store.commitTrainerCheckpoint(
      TrainerCheckpointRecord(
        id: "c1",
        step: 1,
        path: "/c1",
        sha256: "",
        policyVersion: "base",
        rewardModelVersion: "",
        createdUnixMs: 9
      ),
      consumed: [.rating: ["rating-old"], .preference: ["pref-used"]]
    )
    #expect(marked == [.rating: ["rating-old"], .preference: []])
    #expect(try store.latestTrainerCheckpoint()?.metadata == "{}")
    #expect(try store.integrityCheck() == "ok")
  }

  @Test func unconsumedFeedbackIsFoundThroughItsPartialIndexes() throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    let plans = try store.pool.read { db in
      try FeedbackKind.allCases.map { kind in
        try Row.fetchAll(
          db,
          sql: "EXPLAIN QUERY PLAN \(SQLiteFeedbackStore.unconsumed(kind))",
          arguments: [1]
        ).map { $0["detail"] as String }.joined(separator: "; ")
      }
    }
    for plan in plans {
      #expect(plan.contains("_unconsumed") && !plan.contains("TEMP B-TREE"), "\(plan)")
    }
  }
}
