// systemd's watchdog (`WatchdogSec=` in the unit → $WATCHDOG_USEC): WATCHDOG=1 is sent only
// after a health check through the daemon's own listener, over a fresh connection, answered
// SERVING. A listener that stopped accepting, a wedged server or a NOT_SERVING daemon then
// misses its pings and systemd restarts it. Each round also updates STATUS= (load, queue,
// promoted version). Without $NOTIFY_SOCKET nothing runs; without $WATCHDOG_USEC only STATUS=.
import Foundation
import GRPCBridge
import Logging
import ServiceLifecycle

/// When and how the watchdog probes, from the environment systemd gives the service.
struct WatchdogSettings: Sendable, Equatable {
  /// Between rounds: a third of `WatchdogSec`, or `statusInterval` without a watchdog.
  var interval: Duration
  /// Whether systemd expects WATCHDOG=1 (WATCHDOG_USEC set, WATCHDOG_PID unset or ours).
  var pings: Bool
  /// How long one probe may take (less than the interval).
  var probeTimeout: Duration

  static let statusInterval = Duration.seconds(10)

  /// nil when there is no notification socket (not started by systemd: nothing to do).
  static func from(environment: [String: String], pid: Int32) -> WatchdogSettings? {
    guard let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty else { return nil }
    let owner = environment["WATCHDOG_PID"].flatMap { Int32($0) }
    guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0,
      owner == nil || owner == pid
    else {
      return WatchdogSettings(interval: statusInterval, pings: false, probeTimeout: .seconds(5))
    }
    let interval = Duration.microseconds(Int64(clamping: usec / 3))
    return WatchdogSettings(
      interval: interval,
      pings: true,
      probeTimeout: min(.seconds(5), max(.milliseconds(100), interval / 2))
    )
  }
}

/// The self-probe: grpc.health.v1.Health/Check for the whole server ("") at one address.
enum HealthSelfProbe {
  /// An empty HealthCheckRequest (service "") is zero bytes; SERVING is `status = 1`, the
  /// bytes 08 01 (field 1, varint 1).
  static let serving: [UInt8] = [0x08, 0x01]

  /// nil when the daemon answered SERVING through `target`, else why not.
  static func check(target: String, timeout: Duration) -> String? {
    let outcome = SelfProbe.unary(
      target: target,
      method: "/grpc.health.v1.Health/Check",
      request: [],
      timeout: timeout
    )
    guard outcome.status == 0 else {
      return "health check at \(target): status \(outcome.status) \(outcome.message)"
    }
    guard outcome.response == serving else {
      return "health check at \(target): not SERVING (\(outcome.response))"
    }
    return nil
  }

  /// The address to dial for a bound listen address: wildcards become loopback. nil for TLS
  /// listeners (the probe has no client credentials: liveness then rests on the rest).
  static func target(forBound address: String, tls: Bool) -> String? {
    guard !tls || address.hasPrefix("unix:") else { return nil }
    if address.hasPrefix("0.0.0.0:") { return "127.0.0.1:" + address.dropFirst(8) }
    if address.hasPrefix("[::]:") { return "[::1]:" + address.dropFirst(5) }
    return address
  }
}

/// Runs with the service group: every `interval` after READY, probe, then WATCHDOG=1 and
/// STATUS=, or only STATUS= saying what failed.
struct WatchdogService: Service {
  let settings: WatchdogSettings
  let notifier: SystemdNotifier
  /// The probe target once the daemon is ready (nil before READY=1, or nothing to dial).
  let target: @Sendable () -> String?
  /// Load, queue and version, for STATUS=.
  let status: @Sendable () -> String
  let logger: Logger

  func run() async throws {
    // Ends at once on SIGTERM/SIGINT (the drain sends STOPPING=1; no pings after that).
    await cancelWhenGracefulShutdown { await self.rounds() }
  }

  private func rounds() async {
    var failing = false
    while !Task.isCancelled {
      do {
        try await Task.sleep(for: settings.interval)
      } catch { return }
      guard let target = target() else { continue }
      let timeout = settings.probeTimeout
      let failure = await Task.detached { HealthSelfProbe.check(target: target, timeout: timeout) }
        .value
      if Task.isCancelled { return }
      if let failure {
        if !failing { logger.warning("self-probe failed", metadata: ["why": .string(failure)]) }
        failing = true
        notifier.send("STATUS=self-probe failed: \(failure)")
        continue
      }
      if failing { logger.notice("self-probe succeeds again") }
      failing = false
      notifier.send((settings.pings ? "WATCHDOG=1\n" : "") + "STATUS=\(status())")
    }
  }
}
