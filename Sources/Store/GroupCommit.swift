// Group commit: submissions queue for one writer thread, which applies everything waiting in one
// SQLite transaction and commits once: one fsync for many acknowledgements. A submission's
// continuation resumes only after that commit returned, so an ack always means "on disk". If
// the commit fails, every submission of the batch fails and none is acknowledged.
//
// Cheap paths, same guarantees:
// - A submitter that finds nobody writing, while commits are fast (under `inlineBelow`, e.g. a
//   disk whose flush a cache acknowledges), commits on its own thread instead of handing off to
//   the writer thread and being woken again (two thread switches that cost more than such a
//   commit); it takes what is queued (up to 63) into its transaction too (leader and
//   followers). With slow commits it queues as before, so that no caller's thread waits out an
//   fsync.
// - A batch runs without savepoints first; only if one of its submissions fails is the
//   transaction rolled back and the batch run again, each submission in its own savepoint, so
//   that one bad submission fails alone (the work closures touch nothing but the database).
import Foundation
import GRDB

final class GroupCommitter: @unchecked Sendable {
  typealias Work = @Sendable (Database) throws -> StoreAck

  private struct Job {
    let work: Work
    /// Nil for fire-and-forget records (generations): nobody waits for them.
    let done: (@Sendable (Result<StoreAck, StoreError>) -> Void)?
    /// Bytes the job holds in memory until it is written (counted for background jobs).
    var bytes = 0
  }

  private let writer: any DatabaseWriter
  private let condition = NSCondition()
  private var jobs: [Job] = []
  private var unacknowledged = 0
  private var unacknowledgedBytes = 0
  private var stopped = false
  private var finished = false
  /// A transaction is running (the writer thread's or an inline one).
  private var writing = false
  /// Commits taking less than this (moving average) may run on the submitter's thread.
  let inlineBelow: Duration
  /// Waiting submissions an inline commit takes along.
  static let inlineTakes = 63
  private var commitAverage = Duration.zero
  /// Records without a waiter that may queue, and the bytes they may hold (images); more are
  /// dropped (counted).
  let maxBackground: Int
  let maxBackgroundBytes: Int
  private(set) var droppedBackground = 0
  /// Transactions committed, and submissions in them (for tests and metrics).
  private(set) var commits = 0
  private(set) var committedJobs = 0

  init(
    writer: any DatabaseWriter,
    maxBackground: Int,
    maxBackgroundBytes: Int,
    inlineBelow: Duration = .microseconds(200)
  ) {
    self.writer = writer
    self.inlineBelow = inlineBelow
    self.maxBackground = maxBackground
    self.maxBackgroundBytes = maxBackgroundBytes
    let thread = Thread { [self] in self.loop() }
    thread.start()
  }

  /// Applies `work` in the next group commit; returns once it is durable.
  func submit(_ work: @escaping Work) async throws(StoreError) -> StoreAck {
    if let result = commitInline(work) { return try result.get() }
    let result = await withUnsafeContinuation {
      (continuation: UnsafeContinuation<Result<StoreAck, StoreError>, Never>) in
      enqueue(Job(work: work, done: { continuation.resume(returning: $0) }))
    }
    return try result.get()
  }

  /// Applies every one of `works`, queued together in order (they share group commits, each
  /// in its own savepoint); returns one result each, once all are durable or failed.
  func submitAll(_ works: [Work]) async -> [Result<StoreAck, StoreError>] {
    guard !works.isEmpty else { return [] }
    return await withCheckedContinuation {
      (continuation: CheckedContinuation<[Result<StoreAck, StoreError>], Never>) in
      let results = Results(count: works.count) { continuation.resume(returning: $0) }
      condition.lock()
      guard !stopped else {
        condition.unlock()
        let closed = StoreError(.unavailable, "the feedback store is closed")
        continuation.resume(returning: works.map { _ in .failure(closed) })
        return
      }
      for (index, work) in works.enumerated() {
        jobs.append(Job(work: work, done: { results.set(index, $0) }))
      }
      condition.signal()
      condition.unlock()
    }
  }

  /// Collects the results of `submitAll` and hands them over when the last one is in.
  private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<StoreAck, StoreError>?]
    private var remaining: Int
    private let done: ([Result<StoreAck, StoreError>]) -> Void

    init(count: Int, done: @escaping ([Result<StoreAck, StoreError>]) -> Void) {
      values = Array(repeating: nil, count: count)
      remaining = count
      self.done = done
    }

    func set(_ index: Int, _ result: Result<StoreAck, StoreError>) {
      lock.lock()
      values[index] = result
      remaining -= 1
      let finished = remaining == 0
      lock.unlock()
      if finished { done(values.map { $0! }) }
    }
  }

  /// Queues `work` (holding `bytes` until written) with nobody waiting; false when the queue of
  /// such work is full by count or bytes (dropped).
  @discardableResult
  func submitInBackground(bytes: Int, _ work: @escaping Work) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    guard !stopped, unacknowledged < maxBackground,
      unacknowledgedBytes + bytes <= maxBackgroundBytes
    else {
      droppedBackground += 1
      return false
    }
    unacknowledged += 1
    unacknowledgedBytes += bytes
    jobs.append(Job(work: work, done: nil, bytes: bytes))
    condition.signal()
    return true
  }

  /// Commits what is queued, then ends the thread; later submissions fail.
  func stop() {
    condition.lock()
    stopped = true
    condition.broadcast()
    while !finished { condition.wait() }
    condition.unlock()
  }

  /// Counters read under the lock.
  func counters() -> (commits: Int, jobs: Int, dropped: Int) {
    condition.lock()
    defer { condition.unlock() }
    return (commits, committedJobs, droppedBackground)
  }

  private func enqueue(_ job: Job) {
    condition.lock()
    if stopped {
      condition.unlock()
      job.done?(.failure(StoreError(.unavailable, "the feedback store is closed")))
      return
    }
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  /// Commits `work` (and whatever is queued) on this thread when nobody is writing and commits
  /// are fast; nil when it must queue instead.
  private func commitInline(_ work: @escaping Work) -> Result<StoreAck, StoreError>? {
    condition.lock()
    guard !stopped, !writing, commitAverage < inlineBelow else {
      condition.unlock()
      return nil
    }
    writing = true
    // At most `inlineTakes` of the waiting (an import's thousands stay for the writer thread,
    // so that a caller's thread is never held for long).
    let taken = min(jobs.count, Self.inlineTakes)
    let batch = [Job(work: work, done: nil)] + jobs.prefix(taken)
    jobs.removeFirst(taken)
    condition.unlock()
    let results = run(batch)
    for (job, result) in zip(batch, results).dropFirst() { job.done?(result) }
    return results[0]
  }

  private func loop() {
    while true {
      condition.lock()
      while writing || (jobs.isEmpty && !stopped) { condition.wait() }
      if jobs.isEmpty {
        finished = true
        condition.broadcast()
        condition.unlock()
        return
      }
      writing = true
      let batch = jobs
      jobs.removeAll()
      condition.unlock()
      let results = run(batch)
      for (job, result) in zip(batch, results) { job.done?(result) }
    }
  }

  /// Commits `batch` (the caller set `writing`), updates the counters, clears `writing`.
  private func run(_ batch: [Job]) -> [Result<StoreAck, StoreError>] {
    let start = ContinuousClock.now
    let results = commit(batch)
    let elapsed = ContinuousClock.now - start
    condition.lock()
    writing = false
    commitAverage = commitAverage * 7 / 8 + elapsed / 8
    commits += 1
    committedJobs += batch.count
    unacknowledged -= batch.count { $0.done == nil }
    unacknowledgedBytes -= batch.reduce(0) { $0 + $1.bytes }
    condition.broadcast()  // the writer thread may wait for `writing` to clear; `stop` too
    condition.unlock()
    return results
  }

  /// One transaction for the whole batch: without savepoints while every job succeeds, else
  /// rolled back and run again with a savepoint for each job.
  private func commit(_ batch: [Job]) -> [Result<StoreAck, StoreError>] {
    do {
      var acks: [StoreAck] = []
      try transaction { db in
        acks = []
        for job in batch { acks.append(try job.work(db)) }
      }
      return acks.map { .success($0) }
    } catch {
      // A single job's failure is its own result; a batch is run again in savepoints.
      if batch.count == 1 { return [.failure(StoreError.from(error))] }
    }
    var results: [Result<StoreAck, StoreError>] = []
    do {
      try transaction { db in
        results = []
        for job in batch {
          var ack: StoreAck?
          do {
            try db.inSavepoint {
              ack = try job.work(db)
              return .commit
            }
            results.append(.success(ack!))
          } catch {
            results.append(.failure(StoreError.from(error)))
          }
        }
      }
      return results
    } catch {
      let failure = StoreError.from(error)
      return batch.map { _ in .failure(failure) }
    }
  }

  /// `body` in one IMMEDIATE transaction, its BEGIN and COMMIT prepared once (GRDB's `write`
  /// parses them each time); rolled back if `body` or the commit throws.
  private func transaction(_ body: (Database) throws -> Void) throws {
    try writer.writeWithoutTransaction { db in
      try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
      do {
        try body(db)
        try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
      } catch {
        if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK TRANSACTION") }
        throw error
      }
    }
  }
}
