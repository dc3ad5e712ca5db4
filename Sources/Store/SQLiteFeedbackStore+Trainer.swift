// The trainer's durable records: checkpoints, each committed in ONE write transaction with the
// consumed marks of the feedback it used (a crash before the commit leaves that feedback
// pending, so it is used again from the previous checkpoint; after the commit it is never used
// twice), and the registry of reward-model versions. Like the policy-version changes these
// are rare: each is a direct write on the pool's writer, serialised with the group
// committer's transactions (GRDB runs one writer at a time), and returns after its commit
// (WAL, synchronous=FULL: the WAL is fsynced).
import Foundation
import GRDB

extension SQLiteFeedbackStore {
  /// Records `record` and marks the `consumed` feedback consumed (at `record.createdUnixMs`),
  /// all in one durable transaction: both or neither. Unknown and already marked ids are left
  /// alone. `.exists` (and nothing marked) when a checkpoint with this id was recorded before.
  /// With `rewardModelVersion`, that version is registered in the same transaction (`.exists`
  /// for a used id, again with nothing marked).
  /// The ids newly marked, by kind (kinds given no ids are absent).
  @discardableResult
  public func commitTrainerCheckpoint(
    _ record: TrainerCheckpointRecord,
    consumed: [FeedbackKind: [String]],
    rewardModelVersion: RewardModelVersionRecord? = nil
  ) throws(StoreError) -> [FeedbackKind: [String]] {
    try writing { db in
      if let version = rewardModelVersion { try Self.insert(version, db) }
      // Marks first, then the record: a failing insert (a duplicate id) rolls the marks back.
      var marked: [FeedbackKind: [String]] = [:]
      for kind in FeedbackKind.allCases {
        guard let ids = consumed[kind], !ids.isEmpty else { continue }
        marked[kind] = try Self.mark(kind, ids: ids, atUnixMs: record.createdUnixMs, db)
      }
      do {
        try db.execute(
          sql: """
            INSERT INTO trainer_checkpoints (id, step, path, sha256, policy_version,
              reward_model_version, created_unix_ms, metadata)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
          arguments: [
            record.id, record.step, record.path, record.sha256, record.policyVersion,
            record.rewardModelVersion, record.createdUnixMs, record.metadata,
          ]
        )
      } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
      {
        throw StoreError(.exists, "trainer checkpoint '\(record.id)' exists already")
      }
      return marked
    }
  }

  /// The checkpoint committed last (highest `seq`), nil before the first.
  public func latestTrainerCheckpoint() throws(StoreError) -> TrainerCheckpointRecord? {
    try reading { db in
      try Row.fetchOne(db, sql: "SELECT * FROM trainer_checkpoints ORDER BY seq DESC LIMIT 1")
        .map(Self.checkpoint)
    }
  }

  /// Every checkpoint recorded (and not deleted), oldest first.
  public func trainerCheckpoints() throws(StoreError) -> [TrainerCheckpointRecord] {
    try reading { db in
      try Row.fetchAll(db, sql: "SELECT * FROM trainer_checkpoints ORDER BY seq").map(
        Self.checkpoint
      )
    }
  }

  /// Deletes all but the latest `n` checkpoints' records (durably) and returns the deleted ones,
  /// oldest first, so that the caller deletes their files. Consumed marks stay. `.precondition`
  /// for a negative `n`.
  @discardableResult
  public func deleteTrainerCheckpoints(
    keepingLatest n: Int
  ) throws(StoreError) -> [TrainerCheckpointRecord] {
    guard n >= 0 else {
      throw StoreError(.precondition, "keep a non-negative number of checkpoints, not \(n)")
    }
    return try writing { db in
      let kept = "SELECT seq FROM trainer_checkpoints ORDER BY seq DESC LIMIT ?"
      let removed = try Row.fetchAll(
        db,
        sql: "SELECT * FROM trainer_checkpoints WHERE seq NOT IN (\(kept)) ORDER BY seq",
        arguments: [n]
      ).map(Self.checkpoint)
      try db.execute(
        sql: "DELETE FROM trainer_checkpoints WHERE seq NOT IN (\(kept))",
        arguments: [n]
      )
      return removed
    }
  }

  static func checkpoint(_ row: Row) -> TrainerCheckpointRecord {
    TrainerCheckpointRecord(
      id: row["id"],
      step: row["step"],
      path: row["path"],
      sha256: row["sha256"],
      policyVersion: row["policy_version"],
      rewardModelVersion: row["reward_model_version"],
      createdUnixMs: row["created_unix_ms"],
      metadata: row["metadata"],
      seq: row["seq"]
    )
  }

  // MARK: - Reward-model versions

  /// Records a reward-model version (durable when it returns). `.exists` when the id was
  /// registered before (ids are never reused).
  public func registerRewardModelVersion(_ record: RewardModelVersionRecord) throws(StoreError) {
    try writing { db in try Self.insert(record, db) }
  }

  /// Inserts a reward-model version (`.exists` for a used id) inside the caller's transaction.
  static func insert(_ record: RewardModelVersionRecord, _ db: Database) throws {
    let exists = try Bool.fetchOne(
      db,
      sql: "SELECT EXISTS (SELECT 1 FROM reward_model_versions WHERE id = ?)",
      arguments: [record.id]
    )
    if exists == true {
      throw StoreError(.exists, "reward-model version '\(record.id)' exists already")
    }
    try db.execute(
      sql: """
        INSERT INTO reward_model_versions (id, parent, adapter_path, held_out_accuracy,
          train_pairs, adopted, reason, created_unix_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [
        record.id, record.parent, record.adapterPath, record.heldOutAccuracy,
        record.trainPairs, record.adopted, record.reason, record.createdUnixMs,
      ]
    )
  }

  /// Every reward-model version, in the order they were registered.
  public func rewardModelVersions() throws(StoreError) -> [RewardModelVersionRecord] {
    try reading { db in
      try Row.fetchAll(db, sql: "SELECT * FROM reward_model_versions ORDER BY rowid").map(
        Self.rewardModelVersion
      )
    }
  }

  /// The adopted version registered last, nil when none was adopted (the base scores).
  public func latestAdoptedRewardModelVersion() throws(StoreError) -> RewardModelVersionRecord? {
    try reading { db in
      try Row.fetchOne(
        db,
        sql: "SELECT * FROM reward_model_versions WHERE adopted = 1 ORDER BY rowid DESC LIMIT 1"
      ).map(Self.rewardModelVersion)
    }
  }

  static func rewardModelVersion(_ row: Row) -> RewardModelVersionRecord {
    RewardModelVersionRecord(
      id: row["id"],
      parent: row["parent"],
      adapterPath: row["adapter_path"],
      heldOutAccuracy: row["held_out_accuracy"],
      trainPairs: row["train_pairs"],
      adopted: row["adopted"],
      reason: row["reason"],
      createdUnixMs: row["created_unix_ms"]
    )
  }

  /// `body` in a write transaction (committed durably), its errors as the store's.
  func writing<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
    do { return try pool.write(body) } catch { throw StoreError.from(error) }
  }
}
