import Daemon
import Engine
import GRPCBridge
import Imaging
import Serving
import Testing
import Tokenizer

@Suite struct DaemonConfigurationTests {
  @Test func emptyFileGivesDefaults() throws {
    let configuration = try DaemonConfiguration.parse(yaml: "")
    #expect(configuration == DaemonConfiguration())
    #expect(configuration.listen == ["127.0.0.1:50051"])
    #expect(configuration.maxReceiveMessageBytes >= 32 << 20)
  }

  @Test func readsEveryKey() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: """
        listen: ["127.0.0.1:0", "unix:/tmp/rlhfd.sock"]
        max_receive_message_bytes: 2048
        max_send_message_bytes: 4096
        drain_timeout_seconds: 1.5
        log_level: debug
        debug_service: true
        """
    )
    #expect(configuration.listen == ["127.0.0.1:0", "unix:/tmp/rlhfd.sock"])
    #expect(configuration.maxReceiveMessageBytes == 2048)
    #expect(configuration.maxSendMessageBytes == 4096)
    #expect(configuration.drainTimeoutSeconds == 1.5)
    #expect(configuration.logLevel == "debug")
    #expect(configuration.debugService)
  }

  @Test func readsRewardKeys() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: """
        reward_model: none
        reward_weights:
          correctness: 1.5
          no_eos: -4
        """
    )
    #expect(configuration.rewardModel == "none")
    #expect(configuration.rewardWeights.correctness == 1.5)
    #expect(configuration.rewardWeights.noEOS == -4)
    #expect(configuration.rewardWeights.length == -10)
    #expect(configuration.rewardWeights.lengthNormalizer == 896)
    #expect(throws: ConfigurationError.self) {
      try DaemonConfiguration.parse(yaml: "reward_weights:\n  bogus: 1\n")
    }
    #expect(throws: ConfigurationError.self) {
      try DaemonConfiguration.parse(yaml: "reward_weights:\n  length_normalizer: 0\n")
    }
  }

  @Test func readsAndChecksTheBatchingKeys() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: """
        batching:
          kv_cache_bytes: 1048576
          kv_block_size: 16
          max_batch_size: 8
          step_token_budget: 64
          max_waiting_requests: 3
          max_waiting_tokens: 5000
          prefix_caching: false
        """
    )
    let b = configuration.batching
    #expect(b.kvCacheBytes == 1 << 20 && b.kvBlockSize == 16 && b.maxBatchSize == 8)
    #expect(b.stepTokenBudget == 64 && b.maxWaitingRequests == 3 && b.maxWaitingTokens == 5000)
    #expect(!b.prefixCaching)
    #expect(configuration.runnerSettings().batching == b)
    #expect(configuration.rewardSettings().batching == b)
    #expect(try DaemonConfiguration.parse(yaml: "").batching == BatchingSettings())
    for yaml in [
      "batching:\n  bogus: 1\n",
      "batching:\n  kv_block_size: 0\n",
      "batching:\n  max_batch_size: 64\n  step_token_budget: 32\n",
      "batching:\n  kv_cache_bytes: 0\n",
    ] {
      #expect(throws: ConfigurationError.self, "\(yaml)") {
        try DaemonConfiguration.parse(yaml: yaml)
      }
    }
  }

  @Test func unknownKeyIsNamed() {
    #expect {
      try DaemonConfiguration.parse(yaml: "listne: [\"127.0.0.1:1\"]")
    } throws: { error in
      "\(error)".contains("unknown configuration key 'listne'")
    }
    #expect {
      try DaemonConfiguration.parse(yaml: "tls: {certificate: a, private_key: b, cert: c}")
    } throws: { error in
      "\(error)".contains("'tls.cert'")
    }
  }

  @Test(arguments: [
    ("listen: []", "'listen'"),
    ("max_receive_message_bytes: 10", "'max_receive_message_bytes'"),
    ("drain_timeout_seconds: -1", "'drain_timeout_seconds'"),
    ("log_level: loud", "'log_level'"),
    ("max_send_message_bytes: lots", "wrong type"),
    ("- a\n- b", "mapping"),
    ("listen: [", "not valid YAML"),
  ])
  func badValuesAreRejectedWithAMessage(yaml: String, expected: String) {
    #expect {
      try DaemonConfiguration.parse(yaml: yaml)
    } throws: { error in
      "\(error)".contains(expected)
    }
  }

  @Test func missingTLSFileIsNamed() {
    var configuration = DaemonConfiguration()
    configuration.tls = .init(
      certificate: "/nonexistent/cert.pem",
      privateKey: "/nonexistent/key.pem"
    )
    #expect {
      try configuration.bridgeConfiguration()
    } throws: { error in
      "\(error)".contains("tls.certificate") && "\(error)".contains("/nonexistent/cert.pem")
    }
  }

  @Test func bridgeConfigurationCarriesLimits() throws {
    var configuration = DaemonConfiguration()
    configuration.maxReceiveMessageBytes = 5000
    configuration.drainTimeoutSeconds = 2
    let bridge = try configuration.bridgeConfiguration()
    #expect(bridge.maxReceiveMessageBytes == 5000)
    #expect(bridge.drainTimeout == .seconds(2))
    #expect(bridge.addresses == configuration.listen)
  }

  @Test func readsTheModelKeys() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: """
        policy_model: none
        chat_template: llava_rlhf
        default_max_new_tokens: 32
        image_max_bytes: 4096
        image_max_pixels: 1000
        image_min_side: 2
        image_cache_bytes: 0
        precision: bf16
        """
    )
    #expect(configuration.policyModel == DaemonConfiguration.noModel)
    #expect(try PolicyModelLocation.resolve(configuration.policyModel) == nil)
    let settings = configuration.runnerSettings()
    #expect(settings.defaultMaxNewTokens == 32)
    #expect(settings.imageLimits.maxBytes == 4096)
    #expect(settings.imageLimits.maxPixels == 1000)
    #expect(settings.imageLimits.minWidth == 2)
    #expect(settings.template == .llavaRLHF)
    #expect(settings.precision == .bf16)
    #expect(configuration.rewardSettings().precision == .bf16)
    #expect(DaemonConfiguration().runnerSettings().precision == .fp32)
  }

  @Test func badModelValuesAreRejected() {
    for (yaml, expected) in [
      ("chat_template: chatml", "chat_template"),
      ("policy_model: ''", "policy_model"),
      ("default_max_new_tokens: 0", "default_max_new_tokens"),
      ("image_min_side: 0", "image_min_side"),
      ("precision: fp16", "precision"),
    ] {
      #expect {
        try DaemonConfiguration.parse(yaml: yaml)
      } throws: { error in
        "\(error)".contains(expected)
      }
    }
  }

  @Test func embeddedDefaultModelIsFoundAndMissingDirectoriesAreNamed() throws {
    let found = try PolicyModelLocation.resolve(nil)
    #expect(found?.hasSuffix("models/world/policy") == true)
    #expect(try PolicyModelLocation.resolveReward(nil)?.hasSuffix("models/world/reward") == true)
    #expect {
      try PolicyModelLocation.resolve("/nonexistent/model")
    } throws: { error in
      "\(error)".contains("/nonexistent/model")
    }
  }
}
