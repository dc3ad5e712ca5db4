// Retention of stored generations (the `retention:` section of the configuration) and the
// store's RetentionPolicy it becomes. Feedback, and the generations feedback refers to, are
// never pruned (Store/Retention.swift).
import Serving
public import Store

/// Limits on the generations the feedback store keeps; 0 = no limit. Field names are the YAML
/// keys.
public struct RetentionSettings: Codable, Sendable, Equatable {
  /// Most generations kept (oldest pruned first).
  public var maxGenerations = 1_000_000
  /// Most bytes of generations kept: their rows plus the images they refer to.
  public var maxBytes: Int64 = 8 << 30
  /// Generations older than this many days are pruned.
  public var maxAgeDays: Double = 30
  /// Seconds between pruning passes (the first runs at start).
  public var intervalSeconds: Double = 600
  /// Generations deleted per write transaction (bounds how long a pass holds the writer).
  public var batchSize = 500

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case maxGenerations = "max_generations"
    case maxBytes = "max_bytes"
    case maxAgeDays = "max_age_days"
    case intervalSeconds = "interval_seconds"
    case batchSize = "batch_size"
  }

  public init(from decoder: any Decoder) throws {
    let d = RetentionSettings()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    maxGenerations = try c.decodeIfPresent(Int.self, forKey: .maxGenerations) ?? d.maxGenerations
    maxBytes = try c.decodeIfPresent(Int64.self, forKey: .maxBytes) ?? d.maxBytes
    maxAgeDays = try c.decodeIfPresent(Double.self, forKey: .maxAgeDays) ?? d.maxAgeDays
    intervalSeconds =
      try c.decodeIfPresent(Double.self, forKey: .intervalSeconds) ?? d.intervalSeconds
    batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
  }

  /// Checks values that decode but make no sense.
  func validate() throws(ConfigurationError) {
    if maxGenerations < 0 {
      throw ConfigurationError("'retention.max_generations' must be >= 0 (0 = no limit)")
    }
    if maxBytes < 0 {
      throw ConfigurationError("'retention.max_bytes' must be >= 0 (0 = no limit)")
    }
    if !(maxAgeDays >= 0 && maxAgeDays <= 36500) {
      throw ConfigurationError("'retention.max_age_days' must be between 0 (no limit) and 36500")
    }
    if !(intervalSeconds >= 0.01 && intervalSeconds <= 86400 * 7) {
      throw ConfigurationError("'retention.interval_seconds' must be between 0.01 and 604800")
    }
    if !(1...10000).contains(batchSize) {
      throw ConfigurationError("'retention.batch_size' must be between 1 and 10000")
    }
  }

  /// The store's policy.
  public var policy: RetentionPolicy {
    var policy = RetentionPolicy()
    policy.maxGenerations = maxGenerations
    policy.maxBytes = maxBytes
    policy.maxAgeMs = Int64((maxAgeDays * 86_400_000).rounded())
    policy.batchSize = batchSize
    return policy
  }
}
