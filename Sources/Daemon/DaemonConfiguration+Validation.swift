public import Engine
// The checks of values that decode but make no sense (a YAML file and flags alike).
public import Serving

extension DaemonConfiguration {
  /// Checks values that decode but make no sense.
  public func validate() throws(ConfigurationError) {
    if self.listen.isEmpty { throw ConfigurationError("'listen' needs at least one address") }
    if self.listen.contains(where: \.isEmpty) {
      throw ConfigurationError("'listen' has an empty address")
    }
    if self.maxReceiveMessageBytes < 1024 || self.maxReceiveMessageBytes > Int(Int32.max) {
      throw ConfigurationError("'max_receive_message_bytes' must be between 1024 and \(Int32.max)")
    }
    if self.maxSendMessageBytes < 1024 || self.maxSendMessageBytes > Int(Int32.max) {
      throw ConfigurationError("'max_send_message_bytes' must be between 1024 and \(Int32.max)")
    }
    if !(self.drainTimeoutSeconds >= 0 && self.drainTimeoutSeconds <= 3600) {
      throw ConfigurationError("'drain_timeout_seconds' must be between 0 and 3600")
    }
    try self.connections.validate()
    try self.auth?.validate()
    try self.validateVersions()
    if !["llava15", "llava_rlhf"].contains(self.chatTemplate) {
      throw ConfigurationError(
        "'chat_template' must be llava15 or llava_rlhf, not '\(self.chatTemplate)'"
      )
    }
    if MatmulPrecision(rawValue: self.precision) == nil {
      throw ConfigurationError("'precision' must be fp32 or bf16, not '\(self.precision)'")
    }
    if self.policyModel?.isEmpty == true {
      throw ConfigurationError("'policy_model' is empty; give a directory or 'none'")
    }
    if self.rewardModel?.isEmpty == true {
      throw ConfigurationError("'reward_model' is empty; give a directory or 'none'")
    }
    let w = self.rewardWeights
    if ![w.correctness, w.length, w.noEOS].allSatisfy(\.isFinite) || !(w.lengthNormalizer > 0) {
      throw ConfigurationError("'reward_weights' must be finite, with length_normalizer > 0")
    }
    if !(1...1_000_000).contains(self.defaultMaxNewTokens) {
      throw ConfigurationError("'default_max_new_tokens' must be between 1 and 1000000")
    }
    if self.imageMaxBytes < 1 { throw ConfigurationError("'image_max_bytes' must be positive") }
    if self.imageMaxPixels < 1 { throw ConfigurationError("'image_max_pixels' must be positive") }
    if self.imageMinSide < 1 { throw ConfigurationError("'image_min_side' must be at least 1") }
    if self.imageCacheBytes < 0 {
      throw ConfigurationError("'image_cache_bytes' must not be negative")
    }
    try self.batching.validate()
    if !(0...19).contains(self.computeNice) {
      throw ConfigurationError("'compute_nice' must be between 0 and 19, not \(self.computeNice)")
    }
    if self.stateDirectory?.isEmpty == true {
      throw ConfigurationError("'state_directory' is empty; give a directory or leave it unset")
    }
    if self.feedbackStore?.isEmpty == true {
      throw ConfigurationError("'feedback_store' is empty; give a file, none, or leave it unset")
    }
    try self.retention.validate()
    _ = try self.training.options()
    do { _ = try BLASCoreSetting(parsing: self.blasCore) } catch {
      throw ConfigurationError(error.message)
    }
    if !["text", "json"].contains(self.logFormat) {
      throw ConfigurationError("'log_format' must be text or json, not '\(self.logFormat)'")
    }
    if LogLevelName(self.logLevel) == nil {
      throw ConfigurationError(
        "'log_level' must be one of \(LogLevelName.allNames.joined(separator: ", ")), not '\(self.logLevel)'"
      )
    }
  }

  /// The feedback database's path, nil for none (`feedback_store`, else the state directory's).
  public var feedbackStorePath: String? {
    switch self.feedbackStore {
    case "none": nil
    case .some(let path): path
    case nil: self.stateDirectory.map { $0 + "/feedback.sqlite3" }
    }
  }

  /// The parsed `blas_core` (valid once `validate()` passed).
  public var blasCoreSetting: BLASCoreSetting {
    (try? BLASCoreSetting(parsing: self.blasCore)) ?? .auto
  }
}
