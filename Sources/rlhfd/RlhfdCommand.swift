// `rlhfd serve`: parse flags, load the configuration file, bootstrap logging, run the daemon.
// The entry point is Main.swift (the kernel choice comes before everything else).
import ArgumentParser
import Daemon
import Engine
import Foundation
import Logging
import Serving

struct RlhfdCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rlhfd",
    abstract: "Serve and continuously align a vision-language policy over gRPC.",
    version: Daemon.version,
    subcommands: [
      Serve.self, CheckConfig.self, Import.self, Export.self, BlasCore.self, BlasProbe.self,
    ],
    defaultSubcommand: Serve.self
  )
}

/// Flags shared by the subcommands; each one overrides the configuration file.
struct ConfigurationOptions: ParsableArguments {
  @Option(name: .long, help: "YAML configuration file (flags override it).")
  var config: String?

  @Option(name: .long, help: "Address to listen on (host:port, unix:/path); repeat for several.")
  var listen: [String] = []

  @Option(name: .long, help: "PEM certificate chain for TLS.")
  var tlsCertificate: String?

  @Option(name: .long, help: "PEM private key for TLS.")
  var tlsPrivateKey: String?

  @Option(name: .long, help: "PEM CA bundle for client certificates.")
  var tlsClientCa: String?

  @Flag(name: .long, help: "Require a valid client certificate (mutual TLS).")
  var requireClientCertificate = false

  @Option(name: .long, help: "Largest request message, in bytes.")
  var maxReceiveMessageBytes: Int?

  @Option(name: .long, help: "Largest response message, in bytes.")
  var maxSendMessageBytes: Int?

  @Option(name: .long, help: "Seconds that shutdown waits for in-flight calls.")
  var drainTimeout: Double?

  @Option(name: .long, help: "Calls at once per client connection (more wait in the client).")
  var maxConcurrentStreams: Int?

  @Option(name: .long, help: "Seconds after which a connection without calls is closed; 0 = never.")
  var connectionIdleTimeout: Double?

  @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel: String?

  @Flag(name: .long, help: "Serve rlhfd.v1.Debug (tests and diagnostics only).")
  var debugService = false

  @Option(
    name: .long,
    help:
      "Policy checkpoint directory (llava-hf layout); default: the embedded models/world/policy."
  )
  var policyModel: String?

  @Option(
    name: .long,
    help:
      "Reward checkpoint directory (llava-hf layout + score head); default: the embedded models/world/reward."
  )
  var rewardModel: String?

  @Flag(name: .long, help: "Serve without models: Policy and Reward answer UNIMPLEMENTED.")
  var noModel = false

  @Option(name: .long, help: "Chat template of non-raw prompts: llava15 or llava_rlhf.")
  var chatTemplate: String?

  @Option(
    name: .long,
    help: "Products with bf16 weights: fp32 (exact) or bf16 (about 2x faster; needs AVX512-BF16)."
  )
  var precision: String?

  @Option(name: .long, help: "max_new_tokens when a request does not set it.")
  var defaultMaxNewTokens: Int?

  @Option(name: .long, help: "Largest accepted image file, in bytes.")
  var imageMaxBytes: Int?

  @Option(name: .long, help: "Largest accepted image, in pixels (width x height).")
  var imageMaxPixels: Int?

  @Option(name: .long, help: "Smallest accepted image width and height.")
  var imageMinSide: Int?

  @Option(
    name: .long,
    help:
      "State directory (created if missing); default $STATE_DIRECTORY, $XDG_STATE_HOME/rlhfd or ~/.local/state/rlhfd."
  )
  var stateDirectory: String?

  @Option(
    name: .long,
    help:
      "OpenBLAS kernel set: auto (probe, re-execute with the best), keep (OpenBLAS's own choice) or a core name."
  )
  var blasCore: String?

  @Option(
    name: .long,
    help: "Feedback database (SQLite file) or none; default: STATE_DIR/feedback.sqlite3."
  )
  var feedbackStore: String?

  @Option(
    name: .long,
    help:
      "The online trainer: on (the configuration's default), off, or paused (on, paused at start)."
  )
  var training: String?

  @Option(name: .long, help: "Log lines as text (default) or json (one object per line).")
  var logFormat: String?

  @Option(name: .long, help: "Serve Prometheus /metrics over HTTP on host:port (default off).")
  var metricsListen: String?

  /// `resolve()`, with configuration errors reported as usage errors (message and exit 64).
  func resolvedForCommandLine() throws -> DaemonConfiguration {
    do { return try self.resolve() } catch let error as ConfigurationError {
      throw ValidationError(error.message)
    }
  }

  func resolve() throws -> DaemonConfiguration {
    var configuration =
      try self.config.map { try DaemonConfiguration.load(path: $0) } ?? DaemonConfiguration()
    if !self.listen.isEmpty { configuration.listen = self.listen }
    if self.tlsCertificate != nil || self.tlsPrivateKey != nil {
      guard let certificate = self.tlsCertificate, let key = self.tlsPrivateKey else {
        throw ValidationError("--tls-certificate and --tls-private-key go together")
      }
      configuration.tls = .init(certificate: certificate, privateKey: key)
    }
    if let clientCA = self.tlsClientCa {
      guard configuration.tls != nil else { throw ValidationError("--tls-client-ca needs TLS") }
      configuration.tls?.clientCA = clientCA
    }
    if self.requireClientCertificate {
      guard configuration.tls?.clientCA != nil else {
        throw ValidationError("--require-client-certificate needs --tls-client-ca")
      }
      configuration.tls?.requireClientCertificate = true
    }
    if let bytes = self.maxReceiveMessageBytes { configuration.maxReceiveMessageBytes = bytes }
    if let bytes = self.maxSendMessageBytes { configuration.maxSendMessageBytes = bytes }
    if let seconds = self.drainTimeout { configuration.drainTimeoutSeconds = seconds }
    if let streams = self.maxConcurrentStreams {
      configuration.connections.maxConcurrentStreams = streams
    }
    if let seconds = self.connectionIdleTimeout {
      configuration.connections.idleTimeoutSeconds = seconds
    }
    if let level = self.logLevel { configuration.logLevel = level }
    if self.debugService { configuration.debugService = true }
    if self.noModel && self.policyModel != nil {
      throw ValidationError("--no-model and --policy-model exclude each other")
    }
    if self.noModel && self.rewardModel != nil {
      throw ValidationError("--no-model and --reward-model exclude each other")
    }
    if let directory = self.policyModel { configuration.policyModel = directory }
    if let directory = self.rewardModel { configuration.rewardModel = directory }
    if self.noModel {
      configuration.policyModel = DaemonConfiguration.noModel
      configuration.rewardModel = DaemonConfiguration.noModel
    }
    if let template = self.chatTemplate { configuration.chatTemplate = template }
    if let precision = self.precision { configuration.precision = precision }
    if let tokens = self.defaultMaxNewTokens { configuration.defaultMaxNewTokens = tokens }
    if let bytes = self.imageMaxBytes { configuration.imageMaxBytes = bytes }
    if let pixels = self.imageMaxPixels { configuration.imageMaxPixels = pixels }
    if let side = self.imageMinSide { configuration.imageMinSide = side }
    if let directory = self.stateDirectory { configuration.stateDirectory = directory }
    if configuration.stateDirectory == nil {
      configuration.stateDirectory = StateDirectory.defaultPath(
        environment: ProcessInfo.processInfo.environment
      )
    }
    if let core = self.blasCore { configuration.blasCore = core }
    if let store = self.feedbackStore { configuration.feedbackStore = store }
    if let address = self.metricsListen { configuration.metricsListen = address }
    if let format = self.logFormat { configuration.logFormat = format }
    switch self.training {
    case nil: break
    case "on": configuration.training.enabled = true
    case "off": configuration.training.enabled = false
    case "paused":
      configuration.training.enabled = true
      configuration.training.startPaused = true
    case let other?: throw ValidationError("--training must be on, off or paused, not '\(other)'")
    }
    try configuration.validate()
    return configuration
  }
}

struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Run the daemon (the default).")

  @OptionGroup var options: ConfigurationOptions

  func run() async throws {
    let configuration = try self.options.resolvedForCommandLine()
    let level = LogLevelName(configuration.logLevel)?.level ?? .info
    let json = configuration.logFormat == "json"
    LoggingSystem.bootstrap(
      { label, provider in
        var handler: any LogHandler =
          json
          ? JSONLogHandler(label: label, metadataProvider: provider)
          : StreamLogHandler.standardError(label: label, metadataProvider: provider)
        handler.logLevel = level
        return handler
      },
      metadataProvider: Daemon.logMetadataProvider
    )
    let logger = Logger(label: "rlhfd")
    logger.info("OpenBLAS \(BLASThreads.configuration), \(BLASThreads.count) threads")
    let kernels = BLASCoreSelection.current
    logger.notice(
      "openblas core \(kernels.summary)",
      metadata: ["source": .string(kernels.source.rawValue)]
    )
    do {
      try await Daemon.serve(configuration: configuration, logger: logger)
    } catch {
      logger.critical("cannot serve: \(error)")
      throw ExitCode(1)
    }
  }
}

struct CheckConfig: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-config",
    abstract: "Validate the configuration and print it resolved, as JSON."
  )

  @OptionGroup var options: ConfigurationOptions

  func run() async throws {
    let configuration = try self.options.resolvedForCommandLine()
    if let auth = configuration.auth {  // the tokens file must load too (never printed)
      do { _ = try TokenTable.load(path: auth.tokensFile) } catch {
        throw ValidationError(error.message)
      }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(configuration), as: UTF8.self))
  }
}
