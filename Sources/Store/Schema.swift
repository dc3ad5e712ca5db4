// The database schema, as versioned migrations: a new version appends a migration and never
// edits one that has shipped (tests open a database at every earlier version and migrate it).
import GRDB

enum Schema {
  /// Every migration, oldest first.
  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration(v1Name) { db in
      try db.execute(sql: v1)
    }
    migrator.registerMigration("v2: policy versions") { db in
      try db.execute(sql: v2)
    }
    // v3 (numbered after the policy-versions migration, v2, that lands beside it): indexes on
    // every reference to a generation or an image, so that retention finds what is unreferenced
    // (and SQLite checks the foreign keys of a deleted generation) without scanning tables.
    migrator.registerMigration(v3Name) { db in
      try db.execute(sql: v3)
    }
    // v4: RL prompts' length_bonus was stored as 0 for "the default, 1.0" (no negative values
    // were accepted); it is now the multiplier itself (negative allowed), so 0 becomes 1.
    migrator.registerMigration(v4Name) { db in
      try db.execute(sql: "UPDATE prompts SET length_bonus = 1.0 WHERE length_bonus = 0")
    }
    migrator.registerMigration(v5Name) { db in
      try db.execute(sql: v5)
    }
    return migrator
  }

  /// Images are content-addressed; every other table refers to them by hash. Feedback rows carry
  /// `consumed_unix_ms` (null until training has used them); `idempotency` remembers each
  /// submission's key, content hash and ids, so that a retry gets the original ack.
  static let v1 = """
    CREATE TABLE images (
      sha256 TEXT PRIMARY KEY NOT NULL,
      bytes BLOB NOT NULL,
      created_unix_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE generations (
      id TEXT PRIMARY KEY NOT NULL,
      created_unix_ms INTEGER NOT NULL,
      policy_version TEXT NOT NULL,
      prompt TEXT NOT NULL,
      raw_prompt INTEGER NOT NULL,
      template TEXT NOT NULL,
      sampling TEXT NOT NULL,
      prompt_token_count INTEGER NOT NULL,
      token_ids BLOB NOT NULL,
      logprobs BLOB NOT NULL,
      text TEXT NOT NULL,
      finish_reason TEXT NOT NULL,
      queue_ms REAL NOT NULL,
      compute_ms REAL NOT NULL
    );
    CREATE INDEX generations_created ON generations(created_unix_ms);
    CREATE TABLE generation_images (
      generation_id TEXT NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
      position INTEGER NOT NULL,
      image_sha256 TEXT NOT NULL REFERENCES images(sha256),
      PRIMARY KEY (generation_id, position)
    ) WITHOUT ROWID;
    CREATE TABLE preferences (
      id TEXT PRIMARY KEY NOT NULL,
      created_unix_ms INTEGER NOT NULL,
      image_sha256 TEXT NOT NULL REFERENCES images(sha256),
      prompt TEXT NOT NULL,
      response_1 TEXT,
      response_1_generation TEXT REFERENCES generations(id),
      response_2 TEXT,
      response_2_generation TEXT REFERENCES generations(id),
      preferred INTEGER NOT NULL CHECK (preferred IN (1, 2)),
      response_1_hallucinated INTEGER NOT NULL,
      response_2_hallucinated INTEGER NOT NULL,
      dataset_flag INTEGER NOT NULL,
      facts TEXT,
      consumed_unix_ms INTEGER
    );
    CREATE TABLE prompts (
      id TEXT PRIMARY KEY NOT NULL,
      batch_id TEXT NOT NULL,
      created_unix_ms INTEGER NOT NULL,
      image_sha256 TEXT NOT NULL REFERENCES images(sha256),
      prompt TEXT NOT NULL,
      facts TEXT,
      length_bonus REAL NOT NULL,
      client_id TEXT NOT NULL,
      consumed_unix_ms INTEGER
    );
    CREATE TABLE ratings (
      id TEXT PRIMARY KEY NOT NULL,
      created_unix_ms INTEGER NOT NULL,
      generation_id TEXT NOT NULL REFERENCES generations(id),
      score REAL NOT NULL,
      hallucinated INTEGER,
      consumed_unix_ms INTEGER
    );
    CREATE TABLE idempotency (
      kind TEXT NOT NULL,
      key TEXT NOT NULL,
      content_hash TEXT NOT NULL,
      ack TEXT NOT NULL,
      created_unix_ms INTEGER NOT NULL,
      PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;
    """

  /// The policy-version registry: every version ever registered (ids are never reused; a retired
  /// one keeps its row), with `base` (the base model alone) registered here. Promotions are a
  /// stack: rows whose `popped_unix_ms` is null, in `seq` order; the last is the promoted version
  /// (rollback pops rows, retiring a version pops its rows).
  static let v2 = """
    CREATE TABLE policy_versions (
      id TEXT PRIMARY KEY NOT NULL,
      parent TEXT NOT NULL,
      source TEXT NOT NULL CHECK (source IN ('base', 'config', 'admin', 'trainer')),
      adapter_path TEXT,
      created_unix_ms INTEGER NOT NULL,
      retired_unix_ms INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE policy_promotions (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      version_id TEXT NOT NULL REFERENCES policy_versions(id),
      promoted_unix_ms INTEGER NOT NULL,
      popped_unix_ms INTEGER
    );
    CREATE INDEX policy_promotions_version ON policy_promotions(version_id);
    INSERT INTO policy_versions (id, parent, source, adapter_path, created_unix_ms)
      VALUES ('base', '', 'base', NULL,
        CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
    """

  /// Creates or migrates the database at `path` up to the migration `name` only (tests build
  /// the earlier schemas with it).
  static func migrate(path: String, upTo name: String, thenExecute sql: String = "") throws {
    let queue = try DatabaseQueue(path: path)
    try migrator.migrate(queue, upTo: name)
    if !sql.isEmpty { try queue.write { try $0.execute(sql: sql) } }
  }

  /// The names of the indexes in the database at `path` (tests).
  static func indexNames(path: String) throws -> [String] {
    try DatabaseQueue(path: path).read { db in
      try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY 1")
    }
  }

  static let v1Name = "v1: feedback, generations, images"
  static let v3Name = "v3: retention indexes"
  static let v4Name = "v4: length_bonus is the multiplier (0 was the default, 1)"
  static let v5Name = "v5: trainer checkpoints, reward-model versions, unconsumed indexes"

  static let v3 = """
    CREATE INDEX preferences_response_1_generation ON preferences(response_1_generation);
    CREATE INDEX preferences_response_2_generation ON preferences(response_2_generation);
    CREATE INDEX ratings_generation ON ratings(generation_id);
    CREATE INDEX generation_images_image ON generation_images(image_sha256);
    CREATE INDEX preferences_image ON preferences(image_sha256);
    CREATE INDEX prompts_image ON prompts(image_sha256);
    """
}

extension Schema {
  /// The trainer's side: its checkpoints (`seq` orders them; `metadata` is the caller's JSON,
  /// opaque here), committed in the transaction that marks the feedback they used consumed;
  /// the reward-model versions it trained, adopted or not (registration order = `rowid`).
  /// Partial indexes hold only unconsumed feedback (rowid order), so that the trainer finds
  /// what is pending without scanning what it consumed.
  static let v5 = """
    CREATE TABLE trainer_checkpoints (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      step INTEGER NOT NULL,
      path TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      policy_version TEXT NOT NULL,
      reward_model_version TEXT NOT NULL,
      created_unix_ms INTEGER NOT NULL,
      metadata TEXT NOT NULL
    );
    CREATE TABLE reward_model_versions (
      id TEXT PRIMARY KEY NOT NULL,
      parent TEXT NOT NULL,
      adapter_path TEXT,
      held_out_accuracy REAL,
      train_pairs INTEGER NOT NULL,
      adopted INTEGER NOT NULL CHECK (adopted IN (0, 1)),
      reason TEXT NOT NULL,
      created_unix_ms INTEGER NOT NULL
    );
    CREATE INDEX preferences_unconsumed ON preferences(consumed_unix_ms)
      WHERE consumed_unix_ms IS NULL;
    CREATE INDEX prompts_unconsumed ON prompts(consumed_unix_ms) WHERE consumed_unix_ms IS NULL;
    CREATE INDEX ratings_unconsumed ON ratings(consumed_unix_ms) WHERE consumed_unix_ms IS NULL;
    """
}
