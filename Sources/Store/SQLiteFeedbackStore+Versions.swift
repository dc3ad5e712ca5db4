// The policy-version registry on SQLite. Version changes are rare operator actions: each runs
// in its own write transaction (serialised with the group committer's) and returns after the
// commit, checks and change together.
import Foundation
import GRDB

extension SQLiteFeedbackStore: PolicyVersionStore {
  public func policyVersions() throws(StoreError) -> [PolicyVersionRecord] {
    do {
      return try pool.read { db in
        try Row.fetchAll(db, sql: "SELECT * FROM policy_versions ORDER BY created_unix_ms, id")
          .map { row in
            PolicyVersionRecord(
              id: row["id"],
              parent: row["parent"],
              source: PolicyVersionRecord.Source(rawValue: row["source"]) ?? .admin,
              adapterPath: row["adapter_path"],
              createdUnixMs: row["created_unix_ms"],
              retiredUnixMs: row["retired_unix_ms"]
            )
          }
      }
    } catch { throw StoreError.from(error) }
  }

  public func promotionStack() throws(StoreError) -> [String] {
    do { return try pool.read { db in try Self.stack(db).map(\.version) } } catch {
      throw StoreError.from(error)
    }
  }

  public func registerPolicyVersion(_ record: PolicyVersionRecord) throws(StoreError) {
    try writing { db in
      if try Self.version(record.id, db) != nil {
        throw StoreError(.exists, "policy version '\(record.id)' exists already")
      }
      try db.execute(
        sql: """
          INSERT INTO policy_versions (id, parent, source, adapter_path, created_unix_ms,
            retired_unix_ms)
          VALUES (?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          record.id, record.parent, record.source.rawValue, record.adapterPath,
          record.createdUnixMs, record.retiredUnixMs,
        ]
      )
    }
  }

  public func promotePolicyVersion(_ id: String) throws(StoreError) {
    try writing { db in
      try Self.requireServed(id, db)
      if try Self.stack(db).last?.version == id { return }
      try db.execute(
        sql: "INSERT INTO policy_promotions (version_id, promoted_unix_ms) VALUES (?, ?)",
        arguments: [id, Self.nowMs()]
      )
    }
  }

  public func rollbackPolicyVersion(to id: String) throws(StoreError) {
    try writing { db in
      try Self.requireServed(id, db)
      let stack = try Self.stack(db)
      if stack.last?.version == id {
        throw StoreError(.precondition, "policy version '\(id)' is the promoted version")
      }
      guard let target = stack.dropLast().last(where: { $0.version == id }) else {
        throw StoreError(
          .precondition,
          "policy version '\(id)' was not promoted before the current one"
        )
      }
      try db.execute(
        sql: """
          UPDATE policy_promotions SET popped_unix_ms = ? WHERE popped_unix_ms IS NULL AND seq > ?
          """,
        arguments: [Self.nowMs(), target.seq]
      )
    }
  }

  public func retirePolicyVersion(_ id: String) throws(StoreError) {
    try writing { db in
      try Self.requireServed(id, db)
      if id == PolicyVersionRecord.baseID {
        throw StoreError(.precondition, "the base version cannot be retired")
      }
      if try Self.stack(db).last?.version == id {
        throw StoreError(.precondition, "policy version '\(id)' is promoted; promote another first")
      }
      let now = Self.nowMs()
      try db.execute(
        sql: "UPDATE policy_versions SET retired_unix_ms = ? WHERE id = ?",
        arguments: [now, id]
      )
      try db.execute(
        sql: """
          UPDATE policy_promotions SET popped_unix_ms = ?
          WHERE popped_unix_ms IS NULL AND version_id = ?
          """,
        arguments: [now, id]
      )
    }
  }

  /// The live promotion entries, oldest first, consecutive repeats of one version collapsed.
  static func stack(_ db: Database) throws -> [(seq: Int64, version: String)] {
    let rows = try Row.fetchAll(
      db,
      sql: "SELECT seq, version_id FROM policy_promotions WHERE popped_unix_ms IS NULL ORDER BY seq"
    )
    var stack: [(seq: Int64, version: String)] = []
    for row in rows {
      let version: String = row["version_id"]
      if stack.last?.version == version { continue }
      stack.append((row["seq"], version))
    }
    return stack
  }

  static func version(_ id: String, _ db: Database) throws -> Row? {
    try Row.fetchOne(db, sql: "SELECT * FROM policy_versions WHERE id = ?", arguments: [id])
  }

  /// Throws unless `id` is registered and not retired.
  static func requireServed(_ id: String, _ db: Database) throws {
    guard let row = try version(id, db) else {
      throw StoreError(.notFound, "policy version '\(id)' is not registered")
    }
    if (row["retired_unix_ms"] as Int64?) != nil {
      throw StoreError(.precondition, "policy version '\(id)' is retired")
    }
  }
}

extension SQLiteFeedbackStore {
  /// Creates (or opens) a database at `path` migrated only up to `migration` (tests of later
  /// migrations start from it), running `seed` after.
  static func createDatabase(path: String, upTo migration: String, seed: String = "") throws {
    let queue = try DatabaseQueue(path: path)
    try Schema.migrator.migrate(queue, upTo: migration)
    if !seed.isEmpty { try queue.write { try $0.execute(sql: seed) } }
  }
}
