// Durable acknowledgements per second: the feedback store's group commit at 1, 8 and 64
// concurrent submitters, against SQLite's own synchronous=FULL commit rate (WAL, the same file
// system) measured in the same run. Two peers: one tiny row per transaction (the figure the
// goal was first written against), and the store's own rows per transaction (the same schema,
// settings and statements a preference takes: the image's INSERT OR IGNORE, the idempotency
// lookup, the preference row, the idempotency row), issued straight from one thread with
// cached statements: what SQLite itself costs for one acknowledgement. Ratios are what compare.
//
//   swift run -c release StoreBench [--seconds S] [--directory DIR]
import Foundation
import GRDB
import Store

struct Options {
  var seconds = 3.0
  var directory = FileManager.default.temporaryDirectory.path
  /// Submitter counts to run (`--submitters 1,64`).
  var submitters = [1, 8, 64]

  init(_ arguments: [String]) {
    var iterator = arguments.dropFirst().makeIterator()
    while let argument = iterator.next() {
      switch argument {
      case "--seconds": seconds = Double(iterator.next() ?? "") ?? seconds
      case "--directory": directory = iterator.next() ?? directory
      case "--submitters":
        submitters = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
      default:
        print("usage: StoreBench [--seconds S] [--directory DIR] [--submitters 1,8,64]")
        exit(2)
      }
    }
  }
}

func freshPath(_ options: Options, _ name: String) -> String {
  let directory = URL(fileURLWithPath: options.directory)
    .appendingPathComponent("rlhfd-storebench-\(UUID().uuidString)")
  try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  return directory.appendingPathComponent(name).path
}

/// GRDB's pool sets its writer's synchronous to NORMAL when it turns WAL on (after
/// `prepareDatabase`): FULL again, as the store does, so that every commit fsyncs.
func syncEveryCommit(_ pool: DatabasePool) throws {
  try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
}

/// SQLite alone: one small row per transaction, synchronous=FULL, WAL.
func rawCommitsPerSecond(_ options: Options) throws -> Double {
  var configuration = Configuration()
  configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
  let pool = try DatabasePool(path: freshPath(options, "raw.sqlite3"), configuration: configuration)
  try syncEveryCommit(pool)
  try pool.write { try $0.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)") }
  let end = Date().addingTimeInterval(options.seconds)
  var commits = 0
  while Date() < end {
    try pool.write { try $0.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: ["x"]) }
    commits += 1
  }
  return Double(commits) / options.seconds
}

/// SQLite alone, the store's rows: each transaction does what `perCommit` preference submissions
/// do (same schema: the store creates the file; same pragmas; same statements), from one
/// thread; rows (acks) per second. With many rows per commit it is the ceiling of group commit.
func sameRowsPerSecond(
  _ options: Options,
  perCommit: Int = 1
) throws -> (rate: Double, cpu: Double) {
  let path = freshPath(options, "peer.sqlite3")
  do {  // the schema, made by the store itself; closed (and unlocked) at the end of the block
    let store = try SQLiteFeedbackStore(path: path)
    store.shutdown()
  }
  var configuration = Configuration()
  configuration.foreignKeysEnabled = true
  configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
  let pool = try DatabasePool(path: path, configuration: configuration)
  try syncEveryCommit(pool)
  let image = Data(repeating: 7, count: 2048)
  // BEGIN and COMMIT prepared once, as the store's group commit does.
  let hash = String(repeating: "ab", count: 32)
  let end = Date().addingTimeInterval(options.seconds)
  let cpuStart = processCPUSeconds()
  var commits = 0
  while Date() < end {
    try pool.writeWithoutTransaction { db in
      try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
      for _ in 0..<perCommit {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try db.cachedStatement(
          sql: "INSERT OR IGNORE INTO images (sha256, bytes, created_unix_ms) VALUES (?, ?, ?)"
        ).execute(arguments: [hash, image, now])
        let key = "k-\(commits)"
        _ = try Row.fetchOne(
          db.cachedStatement(
            sql: "SELECT content_hash, ack FROM idempotency WHERE kind = ? AND key = ?"
          ),
          arguments: ["preference", key]
        )
        let id = SQLiteFeedbackStore.newID("pref")
        try db.cachedStatement(
          sql: """
            INSERT INTO preferences (id, created_unix_ms, image_sha256, prompt, response_1,
              response_1_generation, response_2, response_2_generation, preferred,
              response_1_hallucinated, response_2_hallucinated, dataset_flag, facts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        ).execute(
          arguments: [
            id, now, hash, "w0 q\(commits)", "A.", nil, "B.", nil, 1, false, false, false, nil,
          ]
        )
        try db.cachedStatement(
          sql:
            "INSERT INTO idempotency (kind, key, content_hash, ack, created_unix_ms) VALUES (?, ?, ?, ?, ?)"
        ).execute(arguments: ["preference", key, "v2-0123456789abcdef0123456789abcdef", id, now])
        commits += 1
      }
      try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
    }
  }
  let cpu = (processCPUSeconds() - cpuStart) / Double(max(commits, 1))
  return (Double(commits) / options.seconds, cpu)
}

/// The store with `submitters` concurrent tasks each submitting preferences one after another.
func acksPerSecond(
  _ options: Options,
  submitters: Int
) async throws -> (rate: Double, commits: Int, cpu: Double) {
  let store = try SQLiteFeedbackStore(path: freshPath(options, "store.sqlite3"))
  let image = ImageRef.bytes(
    sha256: String(repeating: "ab", count: 32),
    Array(repeating: 7, count: 2048)
  )
  let end = ContinuousClock.now + .seconds(options.seconds)
  let cpuStart = processCPUSeconds()
  let acks = try await withThrowingTaskGroup(of: Int.self) { group in
    for worker in 0..<submitters {
      group.addTask {
        var count = 0
        while ContinuousClock.now < end {
          let record = PreferenceRecord(
            image: image,
            prompt: "w\(worker) q\(count)",
            response1: .text("A."),
            response2: .text("B."),
            preferred: 1
          )
          _ = try await store.submitPreference(record, idempotencyKey: "w\(worker)-\(count)")
          count += 1
        }
        return count
      }
    }
    return try await group.reduce(0, +)
  }
  let cpu = processCPUSeconds() - cpuStart
  let commits = store.counters.commits
  store.shutdown()
  return (Double(acks) / options.seconds, commits, cpu / Double(max(acks, 1)))
}

let options = Options(CommandLine.arguments)
print("StoreBench \(Date()) (UTC), load average \(loadAverage())")
let tiny = try rawCommitsPerSecond(options)
print(String(format: "sqlite synchronous=FULL commits/s (1 tiny row each): %.0f", tiny))
let (raw, rawCPU) = try sameRowsPerSecond(options)
print(
  String(
    format:
      "sqlite synchronous=FULL commits/s (the store's rows for one preference each): %.0f (%.2fx the tiny row's; %.0f us process CPU per commit)",
    raw,
    raw / tiny,
    rawCPU * 1e6
  )
)
var single = 0.0
for submitters in options.submitters {
  let (rate, commits, cpu) = try await acksPerSecond(options, submitters: submitters)
  if single == 0 { single = rate }  // the first count run (1 by default)
  let perCommit = Double(rate * options.seconds) / Double(max(commits, 1))
  print(
    String(
      format:
        "%2d submitters: %7.0f durable acks/s = %.2fx sqlite's commit rate (same rows), %.2fx (tiny row), %.1fx one submitter (%.1f acks per commit, %.0f us process CPU per ack)",
      submitters,
      rate,
      rate / raw,
      rate / tiny,
      rate / single,
      perCommit,
      cpu * 1e6
    )
  )
}
print(
  String(
    format:
      "goals: 1 submitter >= 0.8x sqlite, same rows (%@), tiny row (%@); 64 submitters >= 10x one submitter: see above",
    single >= 0.8 * raw ? "PASS" : "FAIL",
    single >= 0.8 * tiny ? "PASS" : "FAIL"
  )
)
let (batched, batchedCPU) = try sameRowsPerSecond(options, perCommit: 64)
print(
  String(
    format:
      "sqlite alone, the store's rows, 64 preferences per commit: %.0f rows/s = %.1fx its one-per-commit rate (the ceiling of group commit here; %.0f us process CPU per row)",
    batched,
    batched / raw,
    batchedCPU * 1e6
  )
)
print("load average at the end \(loadAverage())")

func processCPUSeconds() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
  return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func loadAverage() -> String {
  (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
    .split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}
