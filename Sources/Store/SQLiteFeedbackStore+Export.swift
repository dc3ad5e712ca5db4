// Reading feedback back out (`rlhfd export`): preferences and RL prompts in the order they were
// stored, a page per read transaction, with responses given as generation ids resolved to the
// generation's text, and images by hash.
import Foundation
import GRDB

/// A stored preference: its record (image by hash) and the text of both responses.
public struct StoredPreference: Sendable, Equatable {
  public var id: String
  public var createdUnixMs: Int64
  public var consumed: Bool
  public var record: PreferenceRecord
  /// The responses' texts (a generation's stored text when the response names one).
  public var text1: String
  public var text2: String
}

/// A stored RL prompt (image by hash).
public struct StoredPrompt: Sendable, Equatable {
  public var id: String
  public var batchID: String
  public var createdUnixMs: Int64
  public var consumed: Bool
  public var record: PromptRecord
}

extension SQLiteFeedbackStore {
  /// Calls `body` with every preference, oldest first, reading `pageSize` per transaction.
  public func forEachPreference(
    pageSize: Int = 512,
    _ body: (StoredPreference) throws -> Void
  ) throws {
    var after: Int64 = -1
    while true {
      let page = try pool.read { db in
        try Row.fetchAll(
          db,
          sql: "\(Self.preferenceSelect) WHERE p.rowid > ? ORDER BY p.rowid LIMIT ?",
          arguments: [after, pageSize]
        )
      }
      for row in page { try body(Self.storedPreference(row)) }
      guard let last = page.last else { return }
      after = last["row"]
    }
  }

  /// Preferences with their generations' texts (`row`: the rowid): add WHERE, ORDER and LIMIT.
  static let preferenceSelect = """
    SELECT p.rowid AS row, p.*, g1.text AS g1_text, g2.text AS g2_text FROM preferences p
    LEFT JOIN generations g1 ON g1.id = p.response_1_generation
    LEFT JOIN generations g2 ON g2.id = p.response_2_generation
    """

  /// A row of `preferenceSelect` as the preference it stores.
  static func storedPreference(_ row: Row) throws -> StoredPreference {
    let first: ResponseRef =
      (row["response_1_generation"] as String?).map { .generation($0) }
      ?? .text(row["response_1"] ?? "")
    let second: ResponseRef =
      (row["response_2_generation"] as String?).map { .generation($0) }
      ?? .text(row["response_2"] ?? "")
    var record = PreferenceRecord(
      image: .sha256(row["image_sha256"]),
      prompt: row["prompt"],
      response1: first,
      response2: second,
      preferred: row["preferred"]
    )
    record.response1Hallucinated = row["response_1_hallucinated"]
    record.response2Hallucinated = row["response_2_hallucinated"]
    record.datasetFlag = row["dataset_flag"]
    record.facts = try facts(row["facts"])
    return StoredPreference(
      id: row["id"],
      createdUnixMs: row["created_unix_ms"],
      consumed: (row["consumed_unix_ms"] as Int64?) != nil,
      record: record,
      text1: row["response_1"] ?? row["g1_text"] ?? "",
      text2: row["response_2"] ?? row["g2_text"] ?? ""
    )
  }

  /// Calls `body` with every RL prompt, oldest first, reading `pageSize` per transaction.
  public func forEachPrompt(pageSize: Int = 512, _ body: (StoredPrompt) throws -> Void) throws {
    var after: Int64 = -1
    while true {
      let page = try pool.read { db in
        try Row.fetchAll(
          db,
          sql: "\(Self.promptSelect) WHERE rowid > ? ORDER BY rowid LIMIT ?",
          arguments: [after, pageSize]
        )
      }
      for row in page { try body(Self.storedPrompt(row)) }
      guard let last = page.last else { return }
      after = last["row"]
    }
  }

  /// RL prompts (`row`: the rowid): add WHERE, ORDER and LIMIT.
  static let promptSelect = "SELECT rowid AS row, * FROM prompts"

  /// A row of `promptSelect` as the prompt it stores.
  static func storedPrompt(_ row: Row) throws -> StoredPrompt {
    var record = PromptRecord(image: .sha256(row["image_sha256"]), prompt: row["prompt"])
    record.facts = try facts(row["facts"])
    record.lengthBonus = Float(row["length_bonus"] as Double)
    record.clientID = row["client_id"]
    return StoredPrompt(
      id: row["id"],
      batchID: row["batch_id"],
      createdUnixMs: row["created_unix_ms"],
      consumed: (row["consumed_unix_ms"] as Int64?) != nil,
      record: record
    )
  }

  /// A stored image's bytes, nil when it is not stored.
  public func image(sha256: String) throws(StoreError) -> [UInt8]? {
    do {
      return try pool.read { db in
        try Data.fetchOne(db, sql: "SELECT bytes FROM images WHERE sha256 = ?", arguments: [sha256])
      }.map { [UInt8]($0) }
    } catch { throw StoreError.from(error) }
  }

  static func facts(_ json: String?) throws -> StoredFacts? {
    guard let json, json != "null" else { return nil }
    return try JSONDecoder().decode(StoredFacts.self, from: Data(json.utf8))
  }
}
