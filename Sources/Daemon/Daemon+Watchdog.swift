import Glibc
public import Logging
import Scheduler
import ServiceLifecycle
import Services
import Serving
import Synchronization

/// The bound addresses, once the daemon is ready (READY=1 sent).
final class ReadyAddresses: Sendable {
  private let addresses = Mutex<[String]?>(nil)
  func set(_ value: [String]) { addresses.withLock { $0 = value } }
  var current: [String]? { addresses.withLock { $0 } }
}

extension Daemon {
  /// The watchdog service when systemd started the daemon (nil otherwise).
  static func watchdog(
    notifier: SystemdNotifier,
    ready: ReadyAddresses,
    tls: Bool,
    policy: LoadingSlot<ModelRunner>?,
    reward: LoadingSlot<RewardRunner>?,
    logger: Logger
  ) -> WatchdogService? {
    guard
      let settings = WatchdogSettings.from(environment: ProcessEnvironment.current, pid: getpid())
    else { return nil }
    return WatchdogService(
      settings: settings,
      notifier: notifier,
      target: {
        ready.current?.lazy.compactMap { HealthSelfProbe.target(forBound: $0, tls: tls) }.first
      },
      status: {
        var parts = ["serving on \((ready.current ?? []).joined(separator: " "))"]
        if let runner = policy?.loaded { parts.append("policy " + load(runner.batchSnapshot)) }
        if let runner = reward?.loaded { parts.append("reward " + load(runner.batchSnapshot)) }
        return parts.joined(separator: "; ")
      },
      logger: logger
    )
  }

  /// "running 3, waiting 1, KV blocks 40/512": what STATUS= shows per model.
  static func load(_ s: SchedulerSnapshot) -> String {
    let blocks = s.blocksUsed + s.blocksFree
    return "running \(s.running), waiting \(s.waiting), KV blocks \(s.blocksUsed)/\(blocks)"
  }
}

extension Daemon {
  /// Log metadata for every line: `request_id` inside an RPC (Services/RequestID.swift).
  public static let logMetadataProvider: Logger.MetadataProvider = RequestID.metadataProvider
}
