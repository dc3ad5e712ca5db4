// Durable acknowledgements per second: the feedback store's group commit at 1, 8 and 64
// concurrent submitters, against SQLite's own synchronous=FULL commit rate (one row per
// transaction, WAL, the same file system) measured in the same run. Ratios are what compare.
//
//   swift run -c release StoreBench [--seconds S] [--directory DIR]
import Foundation
import GRDB
import Store

struct Options {
  var seconds = 3.0
  var directory = FileManager.default.temporaryDirectory.path

  init(_ arguments: [String]) {
    var iterator = arguments.dropFirst().makeIterator()
    while let argument = iterator.next() {
      switch argument {
      case "--seconds": seconds = Double(iterator.next() ?? "") ?? seconds
      case "--directory": directory = iterator.next() ?? directory
      default:
        print("usage: StoreBench [--seconds S] [--directory DIR]")
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

/// SQLite alone: one small row per transaction, synchronous=FULL, WAL.
func rawCommitsPerSecond(_ options: Options) throws -> Double {
  var configuration = Configuration()
  configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
  let pool = try DatabasePool(path: freshPath(options, "raw.sqlite3"), configuration: configuration)
  try pool.write { try $0.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)") }
  let end = Date().addingTimeInterval(options.seconds)
  var commits = 0
  while Date() < end {
    try pool.write { try $0.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: ["x"]) }
    commits += 1
  }
  return Double(commits) / options.seconds
}

/// The store with `submitters` concurrent tasks each submitting preferences one after another.
func acksPerSecond(_ options: Options, submitters: Int) async throws -> (Double, Int) {
  let store = try SQLiteFeedbackStore(path: freshPath(options, "store.sqlite3"))
  let image = ImageRef.bytes(
    sha256: String(repeating: "ab", count: 32),
    Array(repeating: 7, count: 2048)
  )
  let end = ContinuousClock.now + .seconds(options.seconds)
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
  let commits = store.counters.commits
  store.shutdown()
  return (Double(acks) / options.seconds, commits)
}

let options = Options(CommandLine.arguments)
let raw = try rawCommitsPerSecond(options)
print(String(format: "sqlite synchronous=FULL commits/s (1 row each): %.0f", raw))
var single = 0.0
for submitters in [1, 8, 64] {
  let (rate, commits) = try await acksPerSecond(options, submitters: submitters)
  if submitters == 1 { single = rate }
  let perCommit = Double(rate * options.seconds) / Double(max(commits, 1))
  print(
    String(
      format:
        "%2d submitters: %7.0f durable acks/s = %.2fx sqlite's commit rate, %.1fx one submitter (%.1f acks per commit)",
      submitters,
      rate,
      rate / raw,
      rate / single,
      perCommit
    )
  )
}
print(
  String(
    format: "goals: 1 submitter >= 0.8x sqlite (%@), 64 submitters >= 10x one submitter: see above",
    single >= 0.8 * raw ? "PASS" : "FAIL"
  )
)
