// The composition root: builds the services, the bridge and the service group, and runs them
// until SIGTERM or SIGINT.
import Engine
import GRPCBridge
import GRPCCore
import Imaging
public import Logging
import Models
import Observability
import Scheduler
import ServiceLifecycle
import Services
public import Serving
import ServingTypes
import Store
import StoreMapping
import Tokenizer
import Trainer
import UnixSignals

public enum Daemon {
  /// Serves until a termination signal; throws when it cannot start (e.g. the port is in use).
  public static func serve(configuration: DaemonConfiguration, logger: Logger) async throws {
    let health = HealthStatusStore(
      services: ServiceCatalog.serviceNames(debug: configuration.debugService)
    )
    let notifier = SystemdNotifier(environment: ProcessEnvironment.current)
    // Before anything computes (OpenBLAS's threads restart at the lower priority).
    logger.notice(
      "compute priority",
      metadata: [
        "compute_nice": "\(configuration.computeNice)",
        "applied": .string(ComputePriority.set(niceness: Int32(configuration.computeNice))),
      ]
    )
    let ready = ReadyAddresses()
    let readiness = Readiness { addresses in
      ready.set(addresses)
      health.setAll(.serving)
      logger.notice("serving", metadata: ["addresses": .string(addresses.joined(separator: " "))])
      notifier.ready(status: "serving on \(addresses.joined(separator: " "))")
    }
    // Models load after the server listens (health NOT_SERVING meanwhile); a bad path, an
    // unusable state directory or a precision this CPU cannot run fails now.
    if let directory = configuration.stateDirectory { try StateDirectory.prepare(directory) }
    let tokens = try configuration.auth.map { settings throws(ConfigurationError) in
      try TokenStore(path: settings.tokensFile)
    }
    if let tokens {
      logger.notice(
        "bearer tokens required (health is anonymous)",
        metadata: ["tokens_file": .string(tokens.path), "tokens": "\(tokens.current.names.count)"]
      )
    }
    let metrics = try Self.startMetrics(configuration, logger: logger)
    defer { metrics?.stop() }
    let store = try Self.openStore(configuration, logger: logger)
    defer { store?.shutdown() }  // commits what is queued
    let retention = store.flatMap {
      Self.startRetention($0, configuration.retention, logger: logger)
    }
    defer { retention?.stop() }  // before the store's shutdown (defers run last first)
    let recorder = store.map { StoreRecorder(store: $0, template: configuration.chatTemplate) }
    if configuration.precision == MatmulPrecision.bf16.rawValue && !BF16Products.isSupported {
      throw ConfigurationError("'precision: bf16': \(ModelError.bf16ProductsUnsupported)")
    }
    let policyDirectory = try PolicyModelLocation.resolve(configuration.policyModel)
    let rewardDirectory = try PolicyModelLocation.resolveReward(configuration.rewardModel)
    let policySlot = policyDirectory.map { _ in LoadingSlot<ModelRunner>(what: "policy") }
    let rewardSlot = rewardDirectory.map { _ in LoadingSlot<RewardRunner>(what: "reward") }
    if policyDirectory == nil {
      logger.notice("serving without a model: Policy answers UNIMPLEMENTED")
    }
    if rewardDirectory == nil {
      logger.notice("serving without a reward model: Reward answers UNIMPLEMENTED")
    }
    let trainer = try Self.trainer(
      configuration,
      store: store,
      policy: policySlot,
      reward: rewardSlot,
      logger: logger
    )
    // A full model's Generate/GenerateStream/Score are refused on the bridge's poller thread.
    let admission =
      configuration.earlyRefusal
      ? ServiceCatalog.earlyAdmission(
        policy: policySlot.map { LoadingOverload(slot: $0) },
        reward: rewardSlot.map { LoadingOverload(slot: $0) },
        tokens: tokens
      ).map(BridgeAdmission.init) : nil
    let bridge = BridgeServerTransport(
      configuration: try configuration.bridgeConfiguration(),
      admission: admission
    ) { addresses in
      logger.notice(
        "listening",
        metadata: ["addresses": .string(addresses.joined(separator: " "))]
      )
      readiness.listening(on: addresses)
    }
    let server = GRPCServer(
      transport: bridge,
      services: ServiceCatalog.services(
        health: health,
        debug: configuration.debugService,
        policy: policySlot.map { LoadingPolicyBackend(slot: $0) },
        reward: rewardSlot.map { LoadingRewardBackend(slot: $0) },
        versions: policySlot.map {
          VersionAdmin(
            slot: $0,
            checkpointRoot: configuration.stateDirectory.map { $0 + "/checkpoints" },
            baseModel: policyDirectory
          )
        },
        modelInfo: Self.modelInfo(
          policy: policyDirectory.flatMap { directory in policySlot.map { (directory, $0) } },
          reward: rewardDirectory.flatMap { directory in rewardSlot.map { (directory, $0) } }
        ),
        probeImage: Self.imageProbe(configuration),
        store: store,
        trainer: trainer,
        deadline: { ($0.transportSpecific as? BridgeCallInfo)?.deadline },
        logger: logger
      ),
      interceptors: ServiceCatalog.interceptors(logger: logger, tokens: tokens)
    )
    let loader = ModelLoaderService(
      load: {
        if let policyDirectory, let policySlot {
          policySlot.set(
            try Self.loadPolicy(
              policyDirectory,
              configuration,
              recorder: recorder,
              store: store,
              logger: logger
            )
          )
        }
        if let rewardDirectory, let rewardSlot {
          let runner = try Self.loadReward(rewardDirectory, configuration, logger: logger)
          try Self.restoreRewardModelVersion(runner, store: store, logger: logger)
          rewardSlot.set(runner)
        }
      },
      readiness: readiness
    )
    let watchdog = Self.watchdog(
      notifier: notifier,
      ready: ready,
      tls: configuration.tls != nil,
      policy: policySlot,
      reward: rewardSlot,
      logger: logger
    )
    let group = ServiceGroup(
      configuration: .init(
        services: [
          .init(service: loader),
          .init(
            service: GRPCServerService(
              server: server,
              health: health,
              notifier: notifier,
              logger: logger
            )
          ),
          .init(
            service: ReloadService(
              tokens: tokens,
              configuration: configuration,
              bridge: bridge,
              logger: logger
            ),
            successTerminationBehavior: .ignore
          ),
        ] + (watchdog.map { [.init(service: $0)] } ?? [])
          + (trainer.map { [.init(service: $0, successTerminationBehavior: .ignore)] } ?? []),
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      )
    )
    try await group.run()
    if let runner = policySlot?.loaded { Self.logTotals("policy", runner.batchSnapshot, logger) }
    if let runner = rewardSlot?.loaded { Self.logTotals("reward", runner.batchSnapshot, logger) }
  }

  /// What each model's batch did over the daemon's life (operators and tests read it).
  static func logTotals(_ model: String, _ s: SchedulerSnapshot, _ logger: Logger) {
    logger.notice(
      "\(model) batch totals",
      metadata: [
        "steps": "\(s.steps)", "prefill_positions": "\(s.prefillPositions)",
        "decode_positions": "\(s.decodePositions)", "reused_positions": "\(s.reusedPositions)",
        "preemptions": "\(s.preemptions)", "rejections": "\(s.rejections)",
        "sequences_ended": "\(s.ended)",
      ]
    )
  }

  /// Loads the policy checkpoint in `directory`.
  static func loadPolicy(
    _ directory: String,
    _ configuration: DaemonConfiguration,
    recorder: (any GenerationRecorder)?,
    store: (any PolicyVersionStore)? = nil,
    logger: Logger
  ) throws -> ModelRunner {
    let started = ContinuousClock.now
    var settings = configuration.runnerSettings()
    settings.recorder = recorder
    settings.versionJournal = store.map { StoreVersionJournal(store: $0) }
    let runner = try ModelRunner(directory: directory, settings: settings)
    try Self.restoreVersions(runner, store: store, configuration, logger: logger)
    logger.notice(
      "policy model loaded",
      metadata: [
        "directory": .string(directory),
        "context": .stringConvertible(runner.contextLength),
        "precision": .string(configuration.precision),
        // The bf16 kernel this CPU runs (amx, avx512bf16, unsupported); used only by bf16.
        "bf16_products": .string(BF16Products.path.rawValue),
        // The vision tower's attention at this precision (amx, sgemm).
        "vision_attention": .string(
          BidirectionalAttention.path(
            for: MatmulPrecision(rawValue: configuration.precision) ?? .fp32
          )
          .rawValue
        ),
        "seconds": .string("\(ContinuousClock.now - started)"),
      ]
    )
    return runner
  }
}

extension Daemon {
  /// Loads the reward checkpoint in `directory`.
  static func loadReward(
    _ directory: String,
    _ configuration: DaemonConfiguration,
    logger: Logger
  ) throws -> RewardRunner {
    let started = ContinuousClock.now
    let runner = try RewardRunner(directory: directory, settings: configuration.rewardSettings())
    logger.notice(
      "reward model loaded",
      metadata: [
        "directory": .string(directory),
        "seconds": .string("\(ContinuousClock.now - started)"),
      ]
    )
    return runner
  }
}

extension DaemonConfiguration {
  /// The reward runner's settings from this configuration.
  public func rewardSettings() -> RewardRunnerSettings {
    var settings = RewardRunnerSettings()
    let policy = runnerSettings()
    settings.imageLimits = policy.imageLimits
    settings.imageCacheBytes = policy.imageCacheBytes
    settings.weights = self.rewardWeights
    settings.batching = self.batching
    settings.precision = policy.precision
    return settings
  }

  /// The model runner's settings from this configuration.
  public func runnerSettings() -> ModelRunnerSettings {
    var settings = ModelRunnerSettings()
    settings.template = self.chatTemplate == "llava_rlhf" ? .llavaRLHF : .llava15
    settings.defaultMaxNewTokens = self.defaultMaxNewTokens
    settings.imageLimits = ImageLimits(
      maxBytes: self.imageMaxBytes,
      maxPixels: self.imageMaxPixels,
      minWidth: self.imageMinSide,
      minHeight: self.imageMinSide
    )
    settings.imageCacheBytes = self.imageCacheBytes
    settings.batching = self.batching
    settings.precision = MatmulPrecision(rawValue: self.precision) ?? .fp32
    return settings
  }
}
