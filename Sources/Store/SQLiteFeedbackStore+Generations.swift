// Generations: written in the background by the group committer (token ids and log-probabilities
// as little-endian blobs), read back whole so that feedback on them is an exact PPO sample.
import Foundation
import GRDB

extension SQLiteFeedbackStore {
  static func insert(_ g: GenerationRecord, _ db: Database) throws {
    var hashes: [String] = []
    for (index, image) in g.images.enumerated() {
      hashes.append(try store(image, field: "images[\(index)]", db))
    }
    try db.cachedStatement(
      sql: """
        INSERT INTO generations (id, created_unix_ms, policy_version, prompt, raw_prompt,
          template, sampling, prompt_token_count, token_ids, logprobs, text, finish_reason,
          queue_ms, compute_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    ).execute(
      arguments: [
        g.id, g.createdUnixMs, g.policyVersion, g.prompt, g.rawPrompt, g.template,
        Fingerprint.json(g.sampling), g.promptTokenCount, blob(g.tokenIds), blob(g.logprobs),
        g.text, g.finishReason, g.queueMs, g.computeMs,
      ]
    )
    for (position, hash) in hashes.enumerated() {
      try db.cachedStatement(
        sql:
          "INSERT INTO generation_images (generation_id, position, image_sha256) VALUES (?, ?, ?)"
      ).execute(arguments: [g.id, position, hash])
    }
  }

  static func readGeneration(id: String, _ db: Database) throws -> GenerationRecord? {
    guard
      let row = try Row.fetchOne(db, sql: "SELECT * FROM generations WHERE id = ?", arguments: [id])
    else { return nil }
    let images = try String.fetchAll(
      db,
      sql: "SELECT image_sha256 FROM generation_images WHERE generation_id = ? ORDER BY position",
      arguments: [id]
    )
    let sampling = try JSONDecoder().decode(
      StoredSampling.self,
      from: Data((row["sampling"] as String).utf8)
    )
    return GenerationRecord(
      id: row["id"],
      createdUnixMs: row["created_unix_ms"],
      policyVersion: row["policy_version"],
      prompt: row["prompt"],
      rawPrompt: row["raw_prompt"],
      template: row["template"],
      images: images.map { .sha256($0) },
      sampling: sampling,
      promptTokenCount: row["prompt_token_count"],
      tokenIds: values(row["token_ids"] as Data, of: Int32.self),
      logprobs: values(row["logprobs"] as Data, of: Float.self),
      text: row["text"],
      finishReason: row["finish_reason"],
      queueMs: row["queue_ms"],
      computeMs: row["compute_ms"]
    )
  }

  /// Values as little-endian bytes (x86-64 and arm64 are little-endian: stored as in memory).
  static func blob<T: BitwiseCopyable>(_ values: [T]) -> Data {
    values.withUnsafeBytes { Data($0) }
  }

  static func values<T: BitwiseCopyable>(_ data: Data, of: T.Type) -> [T] {
    let count = data.count / MemoryLayout<T>.stride
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
      _ = data.copyBytes(to: UnsafeMutableRawBufferPointer(buffer))
      initialized = count
    }
  }
}
