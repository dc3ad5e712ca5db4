// What the trainer reads: feedback not consumed yet, oldest first (stored order: rowid, through
// the partial indexes of unconsumed rows), feedback by id (a checkpoint's batch again after
// a restart), and preferences' prompts after a cursor (rollout prompts, consumed or not). Each call is one read transaction; the rows are mapped as `rlhfd export` maps
// them (one mapping per kind).
import Foundation
import GRDB

/// A stored preference's prompt — its image, prompt and facts — as an RL prompt (length bonus
/// 1). `row` is the preference's place in the stored order: the trainer's cursor. Preferences
/// are never deleted and the store never VACUUMs, so rows only grow.
public struct PreferencePrompt: Sendable, Equatable {
  public var row: Int64
  public var id: String
  public var record: PromptRecord
}

extension SQLiteFeedbackStore {
  /// At most `limit` preferences' prompts stored after row `after`, oldest first, whether a
  /// reward-model update consumed them or not.
  public func preferencePrompts(after: Int64, limit: Int) throws(StoreError) -> [PreferencePrompt] {
    try reading { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT rowid AS row, id, image_sha256, prompt, facts FROM preferences
          WHERE rowid > ? ORDER BY rowid LIMIT ?
          """,
        arguments: [after, max(0, limit)]
      ).map { row in
        var record = PromptRecord(image: .sha256(row["image_sha256"]), prompt: row["prompt"])
        record.facts = try Self.facts(row["facts"])
        return PreferencePrompt(row: row["row"], id: row["id"], record: record)
      }
    }
  }

  /// At most `limit` preferences not consumed yet, oldest first.
  public func unconsumedPreferences(limit: Int) throws(StoreError) -> [StoredPreference] {
    try reading { db in
      try Row.fetchAll(
        db,
        sql: Self.unconsumed(.preference),
        arguments: [max(0, limit)]
      ).map(Self.storedPreference)
    }
  }

  /// The preferences with these ids, in the order given (unknown ids are skipped; an id given
  /// twice comes twice).
  public func preferences(ids: [String]) throws(StoreError) -> [StoredPreference] {
    try reading { db in
      try Self.rows(ids, "\(Self.preferenceSelect) WHERE p.id IN", db).map(Self.storedPreference)
    }
  }

  /// At most `limit` RL prompts not consumed yet, oldest first.
  public func unconsumedPrompts(limit: Int) throws(StoreError) -> [StoredPrompt] {
    try reading { db in
      try Row.fetchAll(
        db,
        sql: Self.unconsumed(.prompt),
        arguments: [max(0, limit)]
      ).map(Self.storedPrompt)
    }
  }

  /// The RL prompts with these ids, in the order given (unknown ids are skipped).
  public func prompts(ids: [String]) throws(StoreError) -> [StoredPrompt] {
    try reading { db in
      try Self.rows(ids, "\(Self.promptSelect) WHERE id IN", db).map(Self.storedPrompt)
    }
  }

  /// At most `limit` ratings not consumed yet, oldest first, each with its generation.
  public func unconsumedRatings(limit: Int) throws(StoreError) -> [StoredRating] {
    try reading { db in
      let rows = try Row.fetchAll(
        db,
        sql: Self.unconsumed(.rating),
        arguments: [max(0, limit)]
      )
      return try Self.storedRatings(rows, db)
    }
  }

  /// The ratings with these ids, in the order given (unknown ids are skipped).
  public func ratings(ids: [String]) throws(StoreError) -> [StoredRating] {
    try reading { db in
      try Self.storedRatings(Self.rows(ids, "\(Self.ratingSelect) WHERE r.id IN", db), db)
    }
  }

  /// At most `?` rows of `kind` not consumed yet, oldest first.
  static func unconsumed(_ kind: FeedbackKind) -> String {
    switch kind {
    case .preference:
      "\(preferenceSelect) WHERE p.consumed_unix_ms IS NULL ORDER BY p.rowid LIMIT ?"
    case .prompt: "\(promptSelect) WHERE consumed_unix_ms IS NULL ORDER BY rowid LIMIT ?"
    case .rating: "\(ratingSelect) WHERE r.consumed_unix_ms IS NULL ORDER BY r.rowid LIMIT ?"
    }
  }

  /// Ratings with their generations' columns (`g_…`, null when the generation is not stored).
  static let ratingSelect = """
    SELECT r.rowid AS row, r.*, g.id AS g_id, g.policy_version AS g_policy_version,
      g.prompt AS g_prompt, g.raw_prompt AS g_raw_prompt, g.template AS g_template,
      g.token_ids AS g_token_ids, g.text AS g_text
    FROM ratings r LEFT JOIN generations g ON g.id = r.generation_id
    """

  /// Rows of `ratingSelect` as ratings, their generations' images read in the same transaction.
  static func storedRatings(_ rows: [Row], _ db: Database) throws -> [StoredRating] {
    let generations = rows.compactMap { $0["g_id"] as String? }
    var images: [String: [ImageRef]] = [:]
    for chunk in chunks(Array(Set(generations))) {
      let found = try Row.fetchAll(
        db,
        sql: """
          SELECT generation_id, image_sha256 FROM generation_images
          WHERE generation_id IN (\(databaseQuestionMarks(count: chunk.count)))
          ORDER BY generation_id, position
          """,
        arguments: StatementArguments(chunk)
      )
      for row in found {
        images[row["generation_id"], default: []].append(.sha256(row["image_sha256"]))
      }
    }
    return rows.map { row in
      let generation = (row["g_id"] as String?).map { id in
        RatedGenerationRecord(
          policyVersion: row["g_policy_version"],
          prompt: row["g_prompt"],
          rawPrompt: row["g_raw_prompt"],
          template: row["g_template"],
          images: images[id] ?? [],
          tokenIds: values(row["g_token_ids"] as Data, of: Int32.self),
          text: row["g_text"]
        )
      }
      return StoredRating(
        id: row["id"],
        generationID: row["generation_id"],
        score: Float(row["score"] as Double),
        hallucinated: row["hallucinated"],
        createdUnixMs: row["created_unix_ms"],
        consumed: (row["consumed_unix_ms"] as Int64?) != nil,
        generation: generation
      )
    }
  }

  /// The rows of `select` (ending in "… id IN") for `ids`, in the order of `ids` (unknown ids
  /// skipped, repeated ids repeated), read in chunks that stay under SQLite's variable limit.
  static func rows(_ ids: [String], _ select: String, _ db: Database) throws -> [Row] {
    var byID: [String: Row] = [:]
    for chunk in chunks(Array(Set(ids))) {
      let found = try Row.fetchAll(
        db,
        sql: "\(select) (\(databaseQuestionMarks(count: chunk.count)))",
        arguments: StatementArguments(chunk)
      )
      for row in found { byID[row["id"]] = row }
    }
    return ids.compactMap { byID[$0] }
  }

  static func chunks(_ values: [String], of size: Int = 500) -> [ArraySlice<String>] {
    stride(from: 0, to: values.count, by: size).map {
      values[$0..<min($0 + size, values.count)]
    }
  }

  /// `body` in a read transaction, its errors as the store's.
  func reading<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
    do { return try pool.read(body) } catch { throw StoreError.from(error) }
  }
}
