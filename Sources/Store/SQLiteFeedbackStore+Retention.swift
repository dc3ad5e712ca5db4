// Pruning generations by the retention limits, in bounded write transactions (each deletes at
// most `batchSize` generations, then the images nothing refers to any more), so that
// submissions wait at most one small transaction. The "unreferenced" test runs inside the
// deleting transaction, so feedback that names a generation either committed before (and
// keeps it) or comes after (and gets NOT_FOUND).
import Foundation
import GRDB

extension SQLiteFeedbackStore {
  /// A generation no feedback refers to.
  static let unreferenced = """
    NOT EXISTS (SELECT 1 FROM preferences p WHERE p.response_1_generation = g.id)
    AND NOT EXISTS (SELECT 1 FROM preferences p WHERE p.response_2_generation = g.id)
    AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.generation_id = g.id)
    """

  public func prune(_ policy: RetentionPolicy, nowUnixMs: Int64) throws(StoreError) -> PruneReport {
    try prune(policy, nowUnixMs: nowUnixMs, shouldContinue: { true })
  }

  /// `shouldContinue` is asked between transactions (a stopping worker ends the pass early).
  func prune(
    _ policy: RetentionPolicy,
    nowUnixMs: Int64,
    shouldContinue: () -> Bool
  ) throws(StoreError) -> PruneReport {
    var report = PruneReport()
    let batch = max(1, min(policy.batchSize, 10_000))
    do {
      if policy.maxAgeMs > 0 {
        let cutoff = nowUnixMs - policy.maxAgeMs
        while shouldContinue() {
          let deleted = try deleteOldest(batch, olderThan: cutoff, &report).generations
          if deleted < batch { break }
        }
      }
      if policy.maxGenerations > 0 {
        var excess = try usage().count - policy.maxGenerations
        while excess > 0 && shouldContinue() {
          let deleted = try deleteOldest(min(batch, excess), olderThan: nil, &report).generations
          if deleted == 0 { break }
          excess -= deleted
        }
      }
      if policy.maxBytes > 0 {
        // Measured once, then lowered by what each transaction frees (the next pass measures
        // again, counting what was recorded meanwhile).
        var excess = try usage().bytes - policy.maxBytes
        while excess > 0 && shouldContinue() {
          let deleted = try deleteOldest(batch, olderThan: nil, bytes: excess, &report)
          if deleted.generations == 0 { break }
          excess -= deleted.bytes
        }
      }
      while shouldContinue() {
        let deleted = try deleteOrphanImages(batch, &report)
        if deleted < batch { break }
      }
    } catch { throw StoreError.from(error) }
    return report
  }

  /// Generations stored and their bytes.
  public func usage() throws(StoreError) -> GenerationUsage {
    do {
      return try pool.read { db in
        let row = try Row.fetchOne(
          db,
          sql: """
            SELECT count(*) AS n, coalesce(sum(\(Self.rowBytes)), 0) AS bytes FROM generations
            """
        )
        let images =
          try Int64.fetchOne(
            db,
            sql: """
              SELECT coalesce(sum(length(bytes)), 0) FROM images WHERE sha256 IN
                (SELECT image_sha256 FROM generation_images)
              """
          ) ?? 0
        var usage = GenerationUsage()
        usage.count = row?["n"] ?? 0
        usage.bytes = (row?["bytes"] ?? 0) + images
        return usage
      }
    } catch { throw StoreError.from(error) }
  }

  static let rowBytes = """
    length(prompt) + length(text) + length(token_ids) + length(logprobs) + length(sampling)
      + length(template) + length(policy_version) + 64
    """

  /// Deletes up to `limit` of the oldest unreferenced generations (created before `cutoff`
  /// when given; with `bytes`, only as many as free about that many bytes, at least one) in one
  /// transaction, then the images nothing refers to any more. Returns how many generations it
  /// deleted and the bytes this freed as `usage()` counts them (rows, and the images no
  /// generation refers to any more).
  private func deleteOldest(
    _ limit: Int,
    olderThan cutoff: Int64?,
    bytes: Int64? = nil,
    _ report: inout PruneReport
  ) throws -> (generations: Int, bytes: Int64) {
    let (generations, freed, images) = try pool.write { db -> (Int, Int64, Int) in
      let age = cutoff.map { "AND g.created_unix_ms < \($0)" } ?? ""
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT g.id, \(Self.rowBytes) AS size, (SELECT coalesce(sum(length(i.bytes)), 0)
            FROM generation_images gi JOIN images i ON i.sha256 = gi.image_sha256
            WHERE gi.generation_id = g.id) AS image_size
          FROM generations g
          WHERE \(Self.unreferenced) \(age)
          ORDER BY g.created_unix_ms, g.rowid LIMIT ?
          """,
        arguments: [limit]
      )
      var ids: [String] = []
      var estimate: Int64 = 0  // images counted for each generation: an upper bound
      var freed: Int64 = 0
      for row in rows {
        if let bytes, estimate >= bytes { break }
        ids.append(row["id"])
        estimate += row["size"] + row["image_size"]
        freed += row["size"] as Int64
      }
      guard !ids.isEmpty else { return (0, 0, 0) }
      let marks = databaseQuestionMarks(count: ids.count)
      let hashes = try String.fetchAll(
        db,
        sql:
          "SELECT DISTINCT image_sha256 FROM generation_images WHERE generation_id IN (\(marks))",
        arguments: StatementArguments(ids)
      )
      try db.execute(
        sql: "DELETE FROM generations WHERE id IN (\(marks))",
        arguments: StatementArguments(ids)
      )
      var images = 0
      for hash in hashes {
        freed +=
          try Int64.fetchOne(
            db,
            sql: """
              SELECT length(bytes) FROM images WHERE sha256 = ?
              AND NOT EXISTS (SELECT 1 FROM generation_images gi WHERE gi.image_sha256 = ?)
              """,
            arguments: [hash, hash]
          ) ?? 0
        try db.execute(
          sql: "DELETE FROM images WHERE sha256 = ? AND \(Self.unreferencedImage)",
          arguments: [hash]
        )
        images += db.changesCount
      }
      return (ids.count, freed, images)
    }
    if generations > 0 { report.transactions += 1 }
    report.generations += generations
    report.images += images
    return (generations, freed)
  }

  /// An image (`images.sha256`) nothing refers to.
  static let unreferencedImage = """
    NOT EXISTS (SELECT 1 FROM generation_images gi WHERE gi.image_sha256 = images.sha256)
    AND NOT EXISTS (SELECT 1 FROM preferences p WHERE p.image_sha256 = images.sha256)
    AND NOT EXISTS (SELECT 1 FROM prompts q WHERE q.image_sha256 = images.sha256)
    """

  /// Deletes up to `limit` images nothing refers to (left by earlier versions or passes).
  private func deleteOrphanImages(_ limit: Int, _ report: inout PruneReport) throws -> Int {
    let deleted = try pool.write { db -> Int in
      try db.execute(
        sql: """
          DELETE FROM images WHERE sha256 IN
            (SELECT sha256 FROM images WHERE \(Self.unreferencedImage) LIMIT ?)
          """,
        arguments: [limit]
      )
      return db.changesCount
    }
    if deleted > 0 { report.transactions += 1 }
    report.images += deleted
    return deleted
  }

  /// Marks feedback as consumed by training (durably, through the group committer); ids that
  /// are unknown or already marked are left alone. Returns the ids newly marked.
  public func markConsumed(
    _ kind: FeedbackKind,
    ids: [String],
    atUnixMs: Int64?
  ) async throws(StoreError) -> [String] {
    guard !ids.isEmpty else { return [] }
    let when = atUnixMs ?? Self.nowMs()
    let ack = try await committer.submit { db in
      StoreAck(ids: try Self.mark(kind, ids: ids, atUnixMs: when, db))
    }
    return ack.ids
  }

  /// Marks `ids` of `kind` consumed at `atUnixMs` inside the caller's write transaction,
  /// leaving unknown and already marked ids alone; the ids newly marked, in order.
  static func mark(
    _ kind: FeedbackKind,
    ids: [String],
    atUnixMs: Int64,
    _ db: Database
  ) throws -> [String] {
    var marked: [String] = []
    let statement = try db.cachedStatement(
      sql: "UPDATE \(kind.table) SET consumed_unix_ms = ? WHERE id = ? AND consumed_unix_ms IS NULL"
    )
    for id in ids {
      try statement.execute(arguments: [atUnixMs, id])
      if db.changesCount > 0 { marked.append(id) }
    }
    return marked
  }
}
