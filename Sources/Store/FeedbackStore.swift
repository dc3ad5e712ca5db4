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

  func pendingCounts() throws(StoreError) -> PendingCounts
}
