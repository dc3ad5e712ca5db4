// The feedback store on SQLite (GRDB): WAL journal, synchronous=FULL (a commit returns after the
// WAL is fsynced), foreign keys on, one writer thread with group commit, reads from a pool.
// A lock file held for the store's lifetime makes a second process that opens the same
// database fail at start with a clear message, instead of sharing it.
import Foundation
import GRDB

#if canImport(Glibc)
  import Glibc
#endif

public final class SQLiteFeedbackStore: FeedbackStore, @unchecked Sendable {
  let pool: DatabasePool
  let committer: GroupCommitter
  private let lockDescriptor: Int32
  public let path: String

  /// Opens (creating if needed) the database at `path` and migrates it to the newest schema.
  /// Generations wait for their commit in memory: at most `maxBackgroundRecords` of them
  /// holding `maxBackgroundBytes` (their images); beyond that they are dropped, not waited for.
  /// While commits take less than `inlineCommitBelow` (moving average) a submitter that finds
  /// nobody writing commits on its own thread (`GroupCommitter`); `.zero` always hands off.
  public init(
    path: String,
    maxBackgroundRecords: Int = 4096,
    maxBackgroundBytes: Int = 256 << 20,
    inlineCommitBelow: Duration = .microseconds(200)
  ) throws(StoreError) {
    self.path = path
    lockDescriptor = try Self.lock(path + ".lock")
    do {
      var configuration = Configuration()
      configuration.foreignKeysEnabled = true
      configuration.busyMode = .timeout(5)
      configuration.prepareDatabase { db in
        try db.execute(sql: "PRAGMA synchronous = FULL")
      }
      pool = try DatabasePool(path: path, configuration: configuration)
      // GRDB's pool turns WAL on after `prepareDatabase` ran on its writer, setting that
      // connection's synchronous to NORMAL (commits not fsynced): FULL again, on the one
      // connection that commits.
      try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
      try Schema.migrator.migrate(pool)
    } catch {
      close(lockDescriptor)
      throw StoreError(.cannotOpen, "cannot open the feedback store \(path): \(error)")
    }
    committer = GroupCommitter(
      writer: pool,
      maxBackground: maxBackgroundRecords,
      maxBackgroundBytes: maxBackgroundBytes,
      inlineBelow: inlineCommitBelow
    )
  }

  deinit {
    committer.stop()
    close(lockDescriptor)
  }

  /// Commits what is queued and stops taking submissions.
  public func shutdown() { committer.stop() }

  /// Transactions committed and submissions in them, and background records dropped.
  public var counters: (commits: Int, jobs: Int, dropped: Int) { committer.counters() }

  private static func lock(_ path: String) throws(StoreError) -> Int32 {
    let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else {
      throw StoreError(
        .cannotOpen,
        "cannot open the feedback store's lock file \(path): \(String(cString: strerror(errno)))"
      )
    }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      close(descriptor)
      throw StoreError(
        .cannotOpen,
        "the feedback store \(path.dropLast(5)) is in use by another process (it holds \(path))"
      )
    }
    return descriptor
  }

  public func generation(id: String) throws(StoreError) -> GenerationRecord? {
    do { return try pool.read { db in try Self.readGeneration(id: id, db) } } catch {
      throw StoreError.from(error)
    }
  }

  public func pendingCounts() throws(StoreError) -> PendingCounts {
    do {
      return try pool.read { db in
        var counts = PendingCounts()
        let pending = "WHERE consumed_unix_ms IS NULL"
        counts.preferences =
          try Int.fetchOne(db, sql: "SELECT count(*) FROM preferences \(pending)") ?? 0
        counts.prompts = try Int.fetchOne(db, sql: "SELECT count(*) FROM prompts \(pending)") ?? 0
        counts.ratings = try Int.fetchOne(db, sql: "SELECT count(*) FROM ratings \(pending)") ?? 0
        return counts
      }
    } catch {
      throw StoreError.from(error)
    }
  }

  /// Runs SQLite's own consistency check ("ok" when sound).
  public func integrityCheck() throws(StoreError) -> String {
    do {
      return try pool.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") ?? "" }
    } catch { throw StoreError.from(error) }
  }
}
