import Engine
import Foundation
public import GRPCBridge
import Imaging
// The daemon's settings: a YAML file (`rlhfd serve --config FILE`), then command-line flags on top.
// Unknown keys are errors, so a typo never silently falls back to a default.
public import Serving
import Yams

/// Everything `rlhfd serve` needs to start. Field names are the YAML keys.
public struct DaemonConfiguration: Codable, Sendable, Equatable {
  /// gRPC addresses: `host:port`, `unix:/path`, `unix-abstract:name`.
  public var listen: [String] = ["127.0.0.1:50051"]
  public var tls: TLSFiles? = nil
  /// Bearer tokens with scopes (`DaemonConfiguration+Auth.swift`); nil = every RPC open.
  public var auth: AuthSettings? = nil
  /// Largest request accepted (requests carry images), in bytes.
  public var maxReceiveMessageBytes: Int = 32 << 20
  /// Largest response sent, in bytes.
  public var maxSendMessageBytes: Int = 32 << 20
  /// How long SIGTERM waits for in-flight calls before cancelling them, in seconds.
  public var drainTimeoutSeconds: Double = 10
  /// Limits on each client connection: concurrent calls, idle, keepalive and age timeouts.
  public var connections = ConnectionSettings()
  /// trace, debug, info, notice, warning, error, critical.
  public var logLevel: String = "info"
  /// `text` (one readable line per event) or `json` (one JSON object per line: journald keeps
  /// it, log tools read its fields; JSONLogHandler.swift).
  public var logFormat: String = "text"
  /// Serve `rlhfd.v1.Debug` (Sleep, Echo, Ticks): for tests and diagnostics, never in production.
  public var debugService: Bool = false
  /// The policy checkpoint directory (llava-hf layout). nil = the embedded default model
  /// (`models/world/policy`); `none` = serve without a model (Policy answers UNIMPLEMENTED).
  public var policyModel: String? = nil
  /// The reward checkpoint directory (llava-hf layout + `score` head). nil = the embedded
  /// `models/world/reward`; `none` = no reward model (Reward answers UNIMPLEMENTED).
  public var rewardModel: String? = nil
  /// Weights of the symbolic rewards added to the model score (see SymbolicRewards.swift).
  public var rewardWeights = RewardWeights()
  /// Chat template of non-raw prompts: `llava15` (LLaVA-1.5) or `llava_rlhf` (Vicuna-v1).
  public var chatTemplate: String = "llava15"
  /// max_new_tokens when a request does not set it (always capped by the context).
  public var defaultMaxNewTokens: Int = 256
  /// Largest accepted image file, in bytes.
  public var imageMaxBytes: Int = 32 << 20
  /// Largest accepted image, in pixels (width × height).
  public var imageMaxPixels: Int = ImageLimits().maxPixels
  /// Smallest accepted image width and height.
  public var imageMinSide: Int = 1
  /// Bytes of projected image features kept for `Image.sha256` references.
  public var imageCacheBytes: Int = 64 << 20
  /// Products with bf16 weights: `fp32` (exact, the default) or `bf16` (activations rounded to
  /// bf16, about twice as fast; needs AVX512-BF16). Both models. See docs/precision.md.
  public var precision: String = "fp32"
  /// Continuous batching of each model (KV cache budget, batch size, admission limits).
  public var batching = BatchingSettings()
  /// Nice levels below the daemon's own at which the compute threads run (engine steps, kernel
  /// and OpenBLAS threads, image encoding, training), so that the threads answering calls
  /// preempt them at once; 0...19, 0 = off (docs/reliability.md, "Overload").
  public var computeNice: Int = 10
  /// Refuse Generate, GenerateStream and Score to a model whose queue is full on the gRPC
  /// bridge's poller thread, before any handler runs (docs/reliability.md, "Overload").
  public var earlyRefusal: Bool = true
  /// Where the daemon keeps its state (the OpenBLAS kernel choice, the feedback
  /// database); created if missing. nil = `$STATE_DIRECTORY` (systemd's `StateDirectory=`),
  /// else `$XDG_STATE_HOME/rlhfd`, else `~/.local/state/rlhfd` (`StateDirectory.swift`).
  public var stateDirectory: String? = nil
  /// OpenBLAS's kernel set: `auto` (probe and re-execute when OpenBLAS picked an older set
  /// than the CPU runs), `keep` (OpenBLAS's own choice) or a core name. An explicit
  /// `OPENBLAS_CORETYPE` in the environment wins. See docs/kernels.md.
  public var blasCore: String = "auto"
  /// Limits on the stored generations (count, bytes, age) and how often they are enforced.
  public var retention = RetentionSettings()
  /// The feedback database (SQLite): nil = `feedback.sqlite3` in the state directory; `none` =
  /// no store (Feedback answers UNIMPLEMENTED, generations are not recorded).
  public var feedbackStore: String? = nil
  /// Prometheus `/metrics` over HTTP on its own listener (`127.0.0.1:9464`); nil = off.
  public var metricsListen: String? = nil
  /// LoRA adapters served as policy versions beside `base` (DaemonConfiguration+Versions).
  public var policyVersions: [PolicyVersionConfiguration] = []
  /// The version promoted at the first start; nil = `base`. Later starts keep the store's.
  public var promotedPolicyVersion: String? = nil
  /// The online trainer (TrainingConfiguration.swift): on by default with the small preset.
  public var training = TrainingConfiguration()

  /// The value of `policy_model` that means "no model".
  public static let noModel = "none"

  enum CodingKeys: String, CodingKey, CaseIterable {
    case listen, tls, auth
    case maxReceiveMessageBytes = "max_receive_message_bytes"
    case maxSendMessageBytes = "max_send_message_bytes"
    case drainTimeoutSeconds = "drain_timeout_seconds"
    case connections
    case logLevel = "log_level"
    case logFormat = "log_format"
    case debugService = "debug_service"
    case policyModel = "policy_model"
    case rewardModel = "reward_model"
    case rewardWeights = "reward_weights"
    case chatTemplate = "chat_template"
    case defaultMaxNewTokens = "default_max_new_tokens"
    case imageMaxBytes = "image_max_bytes"
    case imageMaxPixels = "image_max_pixels"
    case imageMinSide = "image_min_side"
    case imageCacheBytes = "image_cache_bytes"
    case precision
    case batching
    case computeNice = "compute_nice"
    case earlyRefusal = "early_refusal"
    case stateDirectory = "state_directory"
    case blasCore = "blas_core"
    case retention
    case feedbackStore = "feedback_store"
    case metricsListen = "metrics_listen"
    case policyVersions = "policy_versions"
    case promotedPolicyVersion = "promoted_policy_version"
    case training
  }

  public init() {}

  public init(from decoder: any Decoder) throws {
    let defaults = DaemonConfiguration()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.listen = try c.decodeIfPresent([String].self, forKey: .listen) ?? defaults.listen
    self.tls = try c.decodeIfPresent(TLSFiles.self, forKey: .tls)
    self.auth = try c.decodeIfPresent(AuthSettings.self, forKey: .auth)
    self.maxReceiveMessageBytes =
      try c.decodeIfPresent(Int.self, forKey: .maxReceiveMessageBytes)
      ?? defaults.maxReceiveMessageBytes
    self.maxSendMessageBytes =
      try c.decodeIfPresent(Int.self, forKey: .maxSendMessageBytes) ?? defaults.maxSendMessageBytes
    self.drainTimeoutSeconds =
      try c.decodeIfPresent(Double.self, forKey: .drainTimeoutSeconds)
      ?? defaults.drainTimeoutSeconds
    self.connections =
      try c.decodeIfPresent(ConnectionSettings.self, forKey: .connections) ?? defaults.connections
    self.logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? defaults.logLevel
    self.logFormat = try c.decodeIfPresent(String.self, forKey: .logFormat) ?? defaults.logFormat
    self.debugService =
      try c.decodeIfPresent(Bool.self, forKey: .debugService) ?? defaults.debugService
    self.policyModel = try c.decodeIfPresent(String.self, forKey: .policyModel)
    self.rewardModel = try c.decodeIfPresent(String.self, forKey: .rewardModel)
    self.rewardWeights =
      try c.decodeIfPresent(RewardWeights.self, forKey: .rewardWeights) ?? defaults.rewardWeights
    self.chatTemplate =
      try c.decodeIfPresent(String.self, forKey: .chatTemplate) ?? defaults.chatTemplate
    self.defaultMaxNewTokens =
      try c.decodeIfPresent(Int.self, forKey: .defaultMaxNewTokens) ?? defaults.defaultMaxNewTokens
    self.imageMaxBytes =
      try c.decodeIfPresent(Int.self, forKey: .imageMaxBytes) ?? defaults.imageMaxBytes
    self.imageMaxPixels =
      try c.decodeIfPresent(Int.self, forKey: .imageMaxPixels) ?? defaults.imageMaxPixels
    self.imageMinSide =
      try c.decodeIfPresent(Int.self, forKey: .imageMinSide) ?? defaults.imageMinSide
    self.imageCacheBytes =
      try c.decodeIfPresent(Int.self, forKey: .imageCacheBytes) ?? defaults.imageCacheBytes
    self.precision = try c.decodeIfPresent(String.self, forKey: .precision) ?? defaults.precision
    self.batching =
      try c.decodeIfPresent(BatchingSettings.self, forKey: .batching) ?? defaults.batching
    self.computeNice =
      try c.decodeIfPresent(Int.self, forKey: .computeNice) ?? defaults.computeNice
    self.earlyRefusal =
      try c.decodeIfPresent(Bool.self, forKey: .earlyRefusal) ?? defaults.earlyRefusal
    self.stateDirectory = try c.decodeIfPresent(String.self, forKey: .stateDirectory)
    self.blasCore = try c.decodeIfPresent(String.self, forKey: .blasCore) ?? defaults.blasCore
    self.retention =
      try c.decodeIfPresent(RetentionSettings.self, forKey: .retention) ?? defaults.retention
    self.feedbackStore = try c.decodeIfPresent(String.self, forKey: .feedbackStore)
    self.metricsListen = try c.decodeIfPresent(String.self, forKey: .metricsListen)
    self.policyVersions =
      try c.decodeIfPresent([PolicyVersionConfiguration].self, forKey: .policyVersions) ?? []
    self.promotedPolicyVersion = try c.decodeIfPresent(String.self, forKey: .promotedPolicyVersion)
    self.training =
      try c.decodeIfPresent(TrainingConfiguration.self, forKey: .training) ?? defaults.training
  }

  /// Parses YAML text; rejects unknown keys and values out of range.
  public static func parse(yaml: String) throws(ConfigurationError) -> DaemonConfiguration {
    let node: Node?
    do { node = try Yams.compose(yaml: yaml) } catch {
      throw ConfigurationError("the configuration is not valid YAML: \(error)")
    }
    guard let node else { return DaemonConfiguration() }
    guard let mapping = node.mapping else {
      throw ConfigurationError("the configuration must be a mapping of keys to values")
    }
    try Self.checkKeys(mapping, allowed: CodingKeys.allCases.map(\.rawValue), path: "")
    if let tls = mapping["tls"]?.mapping {
      try Self.checkKeys(tls, allowed: TLSFiles.CodingKeys.allCases.map(\.rawValue), path: "tls.")
    }
    if let auth = mapping["auth"]?.mapping {
      try Self.checkKeys(
        auth,
        allowed: AuthSettings.CodingKeys.allCases.map(\.rawValue),
        path: "auth."
      )
    }
    if let connections = mapping["connections"]?.mapping {
      let keys = ConnectionSettings.CodingKeys.allCases.map(\.rawValue)
      try Self.checkKeys(connections, allowed: keys, path: "connections.")
    }
    if let weights = mapping["reward_weights"]?.mapping {
      let keys = RewardWeights.CodingKeys.allCases.map(\.rawValue)
      try Self.checkKeys(weights, allowed: keys, path: "reward_weights.")
    }
    if let batching = mapping["batching"]?.mapping {
      let keys = BatchingSettings.CodingKeys.allCases.map(\.rawValue)
      try Self.checkKeys(batching, allowed: keys, path: "batching.")
    }
    try Self.checkVersionKeys(mapping["policy_versions"])
    if let retention = mapping["retention"]?.mapping {
      let keys = RetentionSettings.CodingKeys.allCases.map(\.rawValue)
      try Self.checkKeys(retention, allowed: keys, path: "retention.")
    }
    if let training = mapping["training"]?.mapping {
      let keys = TrainingConfiguration.CodingKeys.allCases.map(\.rawValue)
      try Self.checkKeys(training, allowed: keys, path: "training.")
    }
    let configuration: DaemonConfiguration
    do { configuration = try YAMLDecoder().decode(DaemonConfiguration.self, from: node) } catch {
      throw ConfigurationError("the configuration has a value of the wrong type: \(error)")
    }
    try configuration.validate()
    return configuration
  }

  public static func load(path: String) throws(ConfigurationError) -> DaemonConfiguration {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ConfigurationError(
        "cannot read the configuration file \(path): \(error.localizedDescription)"
      )
    }
    return try Self.parse(yaml: text)
  }

  static func checkKeys(_ mapping: Node.Mapping, allowed: [String], path: String)
    throws(ConfigurationError)
  {
    for key in mapping.keys {
      let name = key.string ?? "\(key)"
      if !allowed.contains(name) {
        throw ConfigurationError(
          "unknown configuration key '\(path)\(name)'; known keys: \(allowed.sorted().joined(separator: ", "))"
        )
      }
    }
  }

  /// The bridge settings, reading TLS files from disk.
  public func bridgeConfiguration() throws(ConfigurationError) -> BridgeConfiguration {
    var tls: BridgeConfiguration.TLS?
    if let files = self.tls {
      tls = BridgeConfiguration.TLS(
        certificateChainPEM: try Self.readPEM(files.certificate, what: "tls.certificate"),
        privateKeyPEM: try Self.readPEM(files.privateKey, what: "tls.private_key"),
        clientCAPEM: try files.clientCA.map { path throws(ConfigurationError) in
          try Self.readPEM(path, what: "tls.client_ca")
        },
        requireClientCertificate: files.requireClientCertificate
      )
      if files.requireClientCertificate && files.clientCA == nil {
        throw ConfigurationError("'tls.require_client_certificate' needs 'tls.client_ca'")
      }
    }
    return BridgeConfiguration(
      addresses: self.listen,
      tls: tls,
      maxReceiveMessageBytes: self.maxReceiveMessageBytes,
      maxSendMessageBytes: self.maxSendMessageBytes,
      drainTimeout: .milliseconds(Int64(self.drainTimeoutSeconds * 1000)),
      connectionLimits: self.connections.limits
    )
  }

  private static func readPEM(_ path: String, what: String) throws(ConfigurationError) -> String {
    do {
      let text = try String(contentsOfFile: path, encoding: .utf8)
      guard text.contains("-----BEGIN ") else {
        throw ConfigurationError("\(what): \(path) is not a PEM file")
      }
      return text
    } catch let error as ConfigurationError {
      throw error
    } catch {
      throw ConfigurationError("\(what): cannot read \(path): \(error.localizedDescription)")
    }
  }
}

/// A configuration that cannot be used, with a message that says what to fix.
