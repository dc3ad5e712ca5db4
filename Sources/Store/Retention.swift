// Retention of stored generations: limits by count, bytes and age. A generation that feedback
// refers to (a preference's response or a rating, consumed by training or not) is never
// pruned: the limits apply to the rest, oldest first. Feedback rows themselves are never
// pruned. An image is deleted once nothing refers to it any more.

/// The limits; 0 = no limit.
public struct RetentionPolicy: Sendable, Equatable {
  /// Most generations kept.
  public var maxGenerations = 0
  /// Most bytes of generations kept: their rows (prompt, text, token ids, log-probabilities,
  /// sampling) plus the images they refer to, each counted once.
  public var maxBytes: Int64 = 0
  /// Generations older than this (milliseconds) are pruned.
  public var maxAgeMs: Int64 = 0
  /// Generations deleted per transaction: a pass holds the writer only this long at a time.
  public var batchSize = 500

  public init() {}

  public var isUnlimited: Bool { maxGenerations == 0 && maxBytes == 0 && maxAgeMs == 0 }
}

/// What one pruning pass did.
public struct PruneReport: Sendable, Equatable {
  public var generations = 0
  public var images = 0
  /// Write transactions used (each deletes at most `batchSize` generations).
  public var transactions = 0

  public init() {}
}

/// Generations stored and their size (as `RetentionPolicy.maxBytes` counts it).
public struct GenerationUsage: Sendable, Equatable {
  public var count = 0
  public var bytes: Int64 = 0

  public init() {}
}

/// Which feedback a `markConsumed` call marks.
public enum FeedbackKind: String, Sendable, Equatable, CaseIterable {
  case preference, prompt, rating

  var table: String {
    switch self {
    case .preference: "preferences"
    case .prompt: "prompts"
    case .rating: "ratings"
    }
  }
}
