// Migrations: a database at every earlier schema migrates to the newest one with its data.
import Foundation
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
}
