// The submissions' SQL, each run by the group committer inside its own savepoint. Idempotency:
// a key seen before with the same content (its fingerprint) returns the original ack marked
// duplicate; with other content it is a conflict; both checks run in the writing transaction,
// so two submissions with one key in the same group commit are ordered too.
import Foundation
import GRDB

extension SQLiteFeedbackStore {
  public func submitPreference(
    _ preference: PreferenceRecord,
    idempotencyKey: String
  ) async throws(StoreError) -> StoreAck {
    try await committer.submit(Self.work(preference, idempotencyKey: idempotencyKey))
  }

  /// Many submissions at once (`rlhfd import`): queued in order for the same group commits,
  /// each in its own savepoint with its own key; one result each, in order.
  public func submitPreferences(
    _ items: [(record: PreferenceRecord, idempotencyKey: String)]
  ) async -> [Result<StoreAck, StoreError>] {
    await committer.submitAll(items.map { Self.work($0.record, idempotencyKey: $0.idempotencyKey) })
  }

  /// Many prompt batches at once (`rlhfd import`), as `submitPreferences`.
  public func submitPromptBatches(
    _ items: [(records: [PromptRecord], idempotencyKey: String)]
  ) async -> [Result<StoreAck, StoreError>] {
    await committer.submitAll(
      items.map { Self.work($0.records, idempotencyKey: $0.idempotencyKey) }
    )
  }

  static func work(_ preference: PreferenceRecord, idempotencyKey: String) -> GroupCommitter.Work {
    let content = Fingerprint.of(preference)
    return { db in
      try Self.idempotent(
        kind: "preference",
        key: idempotencyKey,
        content: content,
        legacy: Fingerprint.legacy(preference),
        db
      ) {
        let image = try Self.store(preference.image, field: "image", db)
        let first = try Self.columns(preference.response1, field: "response_1", db)
        let second = try Self.columns(preference.response2, field: "response_2", db)
        let id = Self.newID("pref")
        try db.cachedStatement(
          sql: """
            INSERT INTO preferences (id, created_unix_ms, image_sha256, prompt, response_1,
              response_1_generation, response_2, response_2_generation, preferred,
              response_1_hallucinated, response_2_hallucinated, dataset_flag, facts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        ).execute(
          arguments: [
            id, Self.nowMs(), image, preference.prompt, first.text, first.generation,
            second.text, second.generation, preference.preferred,
            preference.response1Hallucinated, preference.response2Hallucinated,
            preference.datasetFlag, Fingerprint.json(preference.facts),
          ]
        )
        return StoreAck(ids: [id])
      }
    }
  }

  public func submitPrompts(
    _ prompts: [PromptRecord],
    idempotencyKey: String
  ) async throws(StoreError) -> StoreAck {
    try await committer.submit(Self.work(prompts, idempotencyKey: idempotencyKey))
  }

  static func work(_ prompts: [PromptRecord], idempotencyKey: String) -> GroupCommitter.Work {
    let content = Fingerprint.of(prompts)
    return { db in
      try Self.idempotent(
        kind: "prompts",
        key: idempotencyKey,
        content: content,
        legacy: Fingerprint.legacy(prompts),
        db
      ) {
        let batch = Self.newID("batch")
        var ids: [String] = []
        for (index, prompt) in prompts.enumerated() {
          let image = try Self.store(prompt.image, field: "prompts[\(index)].image", db)
          let id = Self.newID("prompt")
          try db.cachedStatement(
            sql: """
              INSERT INTO prompts (id, batch_id, created_unix_ms, image_sha256, prompt, facts,
                length_bonus, client_id)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?)
              """
          ).execute(
            arguments: [
              id, batch, Self.nowMs(), image, prompt.prompt, Fingerprint.json(prompt.facts),
              Double(prompt.lengthBonus), prompt.clientID,
            ]
          )
          ids.append(id)
        }
        return StoreAck(ids: ids)
      }
    }
  }

  public func submitRating(
    _ rating: RatingRecord,
    idempotencyKey: String
  ) async throws(StoreError) -> StoreAck {
    let content = Fingerprint.of(rating)
    return try await committer.submit { db in
      try Self.idempotent(
        kind: "rating",
        key: idempotencyKey,
        content: content,
        legacy: Fingerprint.legacy(rating),
        db
      ) {
        try Self.requireGeneration(rating.generationID, field: "generation_id", db)
        let id = Self.newID("rating")
        try db.cachedStatement(
          sql: """
            INSERT INTO ratings (id, created_unix_ms, generation_id, score, hallucinated)
            VALUES (?, ?, ?, ?, ?)
            """
        ).execute(
          arguments: [
            id, Self.nowMs(), rating.generationID, Double(rating.score), rating.hallucinated,
          ]
        )
        return StoreAck(ids: [id])
      }
    }
  }

  @discardableResult
  public func record(_ generation: GenerationRecord) -> Bool {
    let bytes = generation.images.reduce(0) { total, image in
      if case .bytes(_, let data) = image { return total + data.count }
      return total
    }
    return committer.submitInBackground(bytes: bytes + 16 * generation.tokenIds.count) { db in
      try Self.insert(generation, db)
      return StoreAck(ids: [generation.id])
    }
  }

  // MARK: - Helpers (inside the writing transaction)

  static func idempotent(
    kind: String,
    key: String,
    content: String,
    legacy: @autoclosure () -> String,
    _ db: Database,
    _ body: () throws -> StoreAck
  ) throws -> StoreAck {
    guard !key.isEmpty else { return try body() }
    let lookup = try db.cachedStatement(
      sql: "SELECT content_hash, ack FROM idempotency WHERE kind = ? AND key = ?"
    )
    if let row = try Row.fetchOne(lookup, arguments: [kind, key]) {
      let stored: String = row["content_hash"]
      // A fingerprint written by an older rlhfd has the legacy form.
      let same = stored.hasPrefix(Fingerprint.prefix) ? stored == content : stored == legacy()
      guard same else {
        throw StoreError(
          .conflict,
          "idempotency_key '\(key.prefix(128))' was used before for a different \(kind) submission"
        )
      }
      // The ids, space-separated (ids never contain spaces).
      let ids = (row["ack"] as String).split(separator: " ").map(String.init)
      return StoreAck(ids: ids, duplicate: true)
    }
    let ack = try body()
    try db.cachedStatement(
      sql:
        "INSERT INTO idempotency (kind, key, content_hash, ack, created_unix_ms) VALUES (?, ?, ?, ?, ?)"
    ).execute(arguments: [kind, key, content, ack.ids.joined(separator: " "), nowMs()])
    return ack
  }

  /// Stores image bytes once (by hash) or checks that a referenced hash is stored; its hash.
  static func store(_ image: ImageRef, field: String, _ db: Database) throws -> String {
    switch image {
    case .bytes(let hash, let bytes):
      try db.cachedStatement(
        sql: "INSERT OR IGNORE INTO images (sha256, bytes, created_unix_ms) VALUES (?, ?, ?)"
      ).execute(
        arguments: [hash, Data(bytes), nowMs()]
      )
    case .sha256(let hash):
      let known = try Bool.fetchOne(
        db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM images WHERE sha256 = ?)"),
        arguments: [hash]
      )
      if known != true {
        throw StoreError(.notFound, "\(field).sha256 \(hash) is not a stored image; send its bytes")
      }
    }
    return image.sha256
  }

  static func requireGeneration(_ id: String, field: String, _ db: Database) throws {
    let known = try Bool.fetchOne(
      db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM generations WHERE id = ?)"),
      arguments: [id]
    )
    if known != true {
      throw StoreError(.notFound, "\(field) '\(id.prefix(80))' is not a stored generation")
    }
  }

  /// A response's two columns: its text, or the generation it names (which must be stored).
  static func columns(
    _ response: ResponseRef,
    field: String,
    _ db: Database
  ) throws -> (text: String?, generation: String?) {
    switch response {
    case .text(let text): return (text, nil)
    case .generation(let id):
      try requireGeneration(id, field: "\(field).generation_id", db)
      return (nil, id)
    }
  }

  /// `prefix-` and a time-ordered UUID (version 7: 48 bits of Unix milliseconds, then random
  /// bits), lowercase: new rows land at the end of their table's id index, so that the acks of
  /// one group commit share index pages (random ids would dirty, and write, a page each).
  public static func newID(_ prefix: String) -> String {
    var bytes = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))
    let ms = UInt64(max(0, nowMs())) & 0xffff_ffff_ffff
    bytes.0 = ms << 16 | 0x7000 | (bytes.0 & 0x0fff)  // time, version 7, 12 random bits
    bytes.1 = 0x8000_0000_0000_0000 | (bytes.1 & 0x3fff_ffff_ffff_ffff)  // variant, 62 bits
    let digits = Array("0123456789abcdef".utf8)
    var out = Array(prefix.utf8)
    out.append(UInt8(ascii: "-"))
    for (i, shift) in stride(from: 124, through: 0, by: -4).enumerated() {
      if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
      let word = shift >= 64 ? bytes.0 >> UInt64(shift - 64) : bytes.1 >> UInt64(shift)
      out.append(digits[Int(word & 0xf)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
