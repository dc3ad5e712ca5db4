// The store's contract: narrow enough that a PostgreSQL implementation can follow the SQLite one.
// Every `submit…` returns only once its records are durable (committed with fsync); an empty
// idempotency key means "no key".

public protocol FeedbackStore: Sendable {
  func submitPreference(
    _ preference: PreferenceRecord,
    idempotencyKey: String
  ) async throws(StoreError) -> StoreAck

  /// All of `prompts` are stored, or none.
  func submitPrompts(
    _ prompts: [PromptRecord],
    idempotencyKey: String
  ) async throws(StoreError) -> StoreAck

  /// `.notFound` when the generation was never stored.
  func submitRating(_ rating: RatingRecord, idempotencyKey: String) async throws(StoreError)
    -> StoreAck

  /// Queues a generation for the next commit without waiting; false when the queue is full and
  /// the record was dropped (serving never waits for the store).
  @discardableResult
  func record(_ generation: GenerationRecord) -> Bool

  func generation(id: String) throws(StoreError) -> GenerationRecord?

  /// A stored image's bytes, nil when it is not stored (never, or pruned).
  func image(sha256: String) throws(StoreError) -> [UInt8]?

  func pendingCounts() throws(StoreError) -> PendingCounts

  /// Marks feedback as consumed by training (durable when it returns); unknown or already
  /// marked ids are left alone. The ids newly marked. `atUnixMs` nil = now.
  func markConsumed(_ kind: FeedbackKind, ids: [String], atUnixMs: Int64?) async throws(StoreError)
    -> [String]

  /// Deletes generations beyond `policy` (never one that feedback refers to) and the images
  /// nothing refers to any more, in transactions of at most `policy.batchSize` generations.
  func prune(_ policy: RetentionPolicy, nowUnixMs: Int64) throws(StoreError) -> PruneReport

  /// Generations stored and their bytes, as the retention limits count them.
  func usage() throws(StoreError) -> GenerationUsage
}

extension FeedbackStore {
  /// Marks feedback as consumed now.
  public func markConsumed(_ kind: FeedbackKind, ids: [String]) async throws(StoreError)
    -> [String]
  {
    try await markConsumed(kind, ids: ids, atUnixMs: nil)
  }
}
