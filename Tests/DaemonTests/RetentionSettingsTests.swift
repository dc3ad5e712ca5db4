// The `retention:` section: defaults, keys, checks, and the store policy it becomes.
import Daemon
import Serving
import Store
import Testing

@Suite struct RetentionSettingsTests {
  @Test func defaultsAndYAMLKeys() throws {
    let defaults = DaemonConfiguration().retention
    #expect(defaults.maxGenerations == 1_000_000 && defaults.maxBytes == 8 << 30)
    #expect(defaults.maxAgeDays == 30 && defaults.intervalSeconds == 600)
    let configuration = try DaemonConfiguration.parse(
      yaml: """
        retention:
          max_generations: 0
          max_bytes: 1048576
          max_age_days: 0.5
          batch_size: 10
        """
    )
    let policy = configuration.retention.policy
    #expect(policy.maxGenerations == 0 && policy.maxBytes == 1 << 20)
    #expect(policy.maxAgeMs == 43_200_000 && policy.batchSize == 10 && !policy.isUnlimited)
    #expect(configuration.retention.intervalSeconds == 600)
  }

  @Test func unknownKeysAndBadValuesAreErrors() {
    let cases = [
      ("retention:\n  max_generation: 5", "unknown configuration key 'retention.max_generation'"),
      ("retention:\n  max_bytes: -1", "'retention.max_bytes' must be >= 0"),
      ("retention:\n  batch_size: 0", "'retention.batch_size' must be between 1 and 10000"),
      ("retention:\n  interval_seconds: 0", "'retention.interval_seconds' must be between"),
    ]
    for (yaml, message) in cases {
      #expect {
        try DaemonConfiguration.parse(yaml: yaml)
      } throws: { error in
        (error as? ConfigurationError)?.message.contains(message) == true
      }
    }
  }
}
