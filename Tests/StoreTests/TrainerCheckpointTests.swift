// The trainer's durable records: a checkpoint and its consumed marks in one transaction (a
// failing insert marks nothing), ordering, deletion of old checkpoints, reward-model versions,
// reopening, and checkpoints committed while submissions go through the group committer.
import Foundation
import GRDB
import Testing

@testable import Store

func checkpointRecord(_ id: String, step: Int = 1, at ms: Int64 = 1_800_000_000_000)
  -> TrainerCheckpointRecord
{
  TrainerCheckpointRecord(
    id: id,
    step: step,
    path: "/state/trainer/\(id).ckpt",
    sha256: String(repeating: "e", count: 64),
    policyVersion: "trainer-\(step)",
    rewardModelVersion: "rm-1",
    createdUnixMs: ms,
    metadata: #"{"rng":[1,2],"note":"ünïcode"}"#
  )
}

func rewardVersion(_ id: String, adopted: Bool, accuracy: Double? = 0.75, at ms: Int64 = 5)
  -> RewardModelVersionRecord
{
  RewardModelVersionRecord(
    id: id,
    parent: "",
    adapterPath: adopted ? "/state/rm/\(id)" : nil,
    heldOutAccuracy: accuracy,
    trainPairs: 128,
    adopted: adopted,
    reason: adopted ? "accuracy rose" : "accuracy dropped",
    createdUnixMs: ms
  )
}

@Suite struct TrainerCheckpointTests {
  @Test func aCheckpointCommitsWithItsConsumedMarksOrNotAtAll() async throws {
    let path = try temporaryStorePath()
    var preferences: [String] = []
    var expected = checkpointRecord("ckpt-1", step: 10)
    do {
      let store = try SQLiteFeedbackStore(path: path)
      #expect(try store.latestTrainerCheckpoint() == nil && store.trainerCheckpoints().isEmpty)
      store.record(generation("g1"))
      _ = try await waitForGeneration(store, "g1")
      preferences = try await submitPreferences(store, ["A?", "B?", "C?"])
      let prompts = try await store.submitPrompts(
        [PromptRecord(image: png, prompt: "P?")],
        idempotencyKey: ""
      ).ids
      let ratings = try await submitRatings(store, ["g1"])

      let marked = try store.commitTrainerCheckpoint(
        expected,
        consumed: [
          .preference: [preferences[0], "pref-unknown"], .prompt: prompts, .rating: ratings,
        ]
      )
      #expect(marked == [.preference: [preferences[0]], .prompt: prompts, .rating: ratings])
      var pending = PendingCounts()
      pending.preferences = 2
      #expect(try store.pendingCounts() == pending)
      let first = try #require(try store.latestTrainerCheckpoint())
      #expect(first.seq > 0)
      expected.seq = first.seq
      #expect(first == expected)
      let used = preferences[0]
      let consumedAt = try await store.pool.read { db in
        try Int64.fetchOne(
          db,
          sql: "SELECT consumed_unix_ms FROM preferences WHERE id = ?",
          arguments: [used]
        )
      }
      #expect(consumedAt == expected.createdUnixMs)

      // The same id again: the insert fails after the marks, and the marks roll back with it.
      expectCode(.exists) {
        try store.commitTrainerCheckpoint(
          checkpointRecord("ckpt-1", step: 20),
          consumed: [.preference: [preferences[1]]]
        )
      }
      #expect(try store.pendingCounts() == pending)
      #expect(try store.trainerCheckpoints().map(\.step) == [10])

      // Already-marked ids are left alone; kinds without ids are absent.
      let second = try store.commitTrainerCheckpoint(
        checkpointRecord("ckpt-2", step: 20),
        consumed: [.preference: [preferences[0], preferences[1]], .rating: []]
      )
      #expect(second == [.preference: [preferences[1]]])
      try store.commitTrainerCheckpoint(checkpointRecord("ckpt-3", step: 30), consumed: [:])
      store.shutdown()
    }
    let reopened = try SQLiteFeedbackStore(path: path)
    let all = try reopened.trainerCheckpoints()
    #expect(all.map(\.id) == ["ckpt-1", "ckpt-2", "ckpt-3"])
    #expect(all.map(\.seq) == all.map(\.seq).sorted() && Set(all.map(\.seq)).count == 3)
    #expect(all[0] == expected && all[2].metadata == expected.metadata)
    #expect(try reopened.latestTrainerCheckpoint()?.id == "ckpt-3")
    #expect(try reopened.unconsumedPreferences(limit: 5).map(\.id) == [preferences[2]])
  }

  @Test func oldCheckpointsAreDeletedAndReturnedSeqsNeverReused() throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    for step in 1...4 {
      try store.commitTrainerCheckpoint(checkpointRecord("c\(step)", step: step), consumed: [:])
    }
    let before = try store.trainerCheckpoints()
    #expect(try store.deleteTrainerCheckpoints(keepingLatest: 10).isEmpty)
    let removed = try store.deleteTrainerCheckpoints(keepingLatest: 2)
    #expect(removed == Array(before.prefix(2)))
    #expect(try store.trainerCheckpoints() == Array(before.suffix(2)))
    expectCode(.precondition) { try store.deleteTrainerCheckpoints(keepingLatest: -1) }
    #expect(try store.deleteTrainerCheckpoints(keepingLatest: 0).map(\.id) == ["c3", "c4"])
    #expect(try store.latestTrainerCheckpoint() == nil)
    try store.commitTrainerCheckpoint(checkpointRecord("c5", step: 5), consumed: [:])
    #expect(try store.latestTrainerCheckpoint()!.seq > before.last!.seq)
    // A deleted checkpoint's id is free again (nothing remembers it); seqs are not.
    try store.commitTrainerCheckpoint(checkpointRecord("c1", step: 6), consumed: [:])
    #expect(try store.trainerCheckpoints().map(\.id) == ["c5", "c1"])
  }

  @Test func checkpointsCommitBesideGroupCommittedSubmissions() async throws {
    let store = try SQLiteFeedbackStore(path: try temporaryStorePath())
    // The writer connection the direct writes use syncs every commit (WAL, synchronous=FULL).
    let settings = try await store.pool.write { db in
      (
        try String.fetchOne(db, sql: "PRAGMA journal_mode"),
        try Int.fetchOne(db, sql: "PRAGMA synchronous")
      )
    }
    #expect(settings.0 == "wal" && settings.1 == 2)
    let ids = try await withThrowingTaskGroup(of: [String].self) { group in
      for index in 0..<40 {
        group.addTask {
          try await store.submitPreference(preference("Q\(index)?"), idempotencyKey: "k\(index)")
            .ids
        }
      }
      var ids: [String] = []
      for try await acked in group { ids += acked }
      return ids
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      for (index, chunk) in stride(from: 0, to: ids.count, by: 8).enumerated() {
        let consumed = Array(ids[chunk..<chunk + 8])
        group.addTask {
          try store.commitTrainerCheckpoint(
            checkpointRecord("c\(index)", step: index),
            consumed: [.preference: consumed]
          )
        }
        group.addTask {
          _ = try await store.submitPreference(preference("More \(index)?"), idempotencyKey: "")
        }
      }
      try await group.waitForAll()
    }
    #expect(try store.trainerCheckpoints().count == 5)
    #expect(try store.pendingCounts().preferences == 5)
    #expect(
      try store.unconsumedPreferences(limit: 10).allSatisfy { $0.record.prompt.hasPrefix("More") }
    )
    #expect(try store.integrityCheck() == "ok")
  }

  @Test func rewardModelVersionsKeepTheirOrderAndTheLatestAdoptedOne() throws {
    let path = try temporaryStorePath()
    do {
      let store = try SQLiteFeedbackStore(path: path)
      #expect(try store.rewardModelVersions().isEmpty)
      #expect(try store.latestAdoptedRewardModelVersion() == nil)
      try store.registerRewardModelVersion(rewardVersion("rm-1", adopted: true, at: 30))
      expectCode(.exists) {
        try store.registerRewardModelVersion(rewardVersion("rm-1", adopted: false))
      }
      // Registration order, whatever the times given.
      try store.registerRewardModelVersion(rewardVersion("rm-2", adopted: true, at: 20))
      try store.registerRewardModelVersion(rewardVersion("rm-3", adopted: false, accuracy: nil))
      #expect(try store.latestAdoptedRewardModelVersion()?.id == "rm-2")
      store.shutdown()
    }
    let store = try SQLiteFeedbackStore(path: path)
    let versions = try store.rewardModelVersions()
    #expect(versions.map(\.id) == ["rm-1", "rm-2", "rm-3"])
    #expect(versions[0] == rewardVersion("rm-1", adopted: true, at: 30))
    #expect(versions[2] == rewardVersion("rm-3", adopted: false, accuracy: nil))
    #expect(versions[2].adapterPath == nil && versions[2].heldOutAccuracy == nil)
    #expect(try store.latestAdoptedRewardModelVersion() == versions[1])
  }
}
