import Testing

@testable import Daemon

/// The watchdog's reading of systemd's environment and the probe's address choice; the
/// pings themselves are tested end to end in Tests/Interop/test_systemd.py.
@Suite struct WatchdogTests {
  @Test func nothingWithoutANotifySocket() {
    #expect(WatchdogSettings.from(environment: ["WATCHDOG_USEC": "30000000"], pid: 7) == nil)
    #expect(WatchdogSettings.from(environment: ["NOTIFY_SOCKET": ""], pid: 7) == nil)
  }

  @Test func pingsEveryThirdOfWatchdogSec() throws {
    let env = ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"]
    let settings = try #require(WatchdogSettings.from(environment: env, pid: 7))
    #expect(settings.pings && settings.interval == .seconds(10))
    #expect(settings.probeTimeout == .seconds(5))
    let mine = try #require(
      WatchdogSettings.from(environment: env.merging(["WATCHDOG_PID": "7"]) { $1 }, pid: 7)
    )
    #expect(mine.pings)
  }

  @Test func statusOnlyWhenTheWatchdogIsNotOurs() throws {
    let other = ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"]
    let settings = try #require(WatchdogSettings.from(environment: other, pid: 7))
    #expect(!settings.pings && settings.interval == WatchdogSettings.statusInterval)
    let none = try #require(WatchdogSettings.from(environment: ["NOTIFY_SOCKET": "@n"], pid: 7))
    #expect(!none.pings)
    let zero = ["NOTIFY_SOCKET": "@n", "WATCHDOG_USEC": "0"]
    #expect(WatchdogSettings.from(environment: zero, pid: 7)?.pings == false)
  }

  @Test func shortWatchdogsGetShortProbes() throws {
    let env = ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "300000"]
    let settings = try #require(WatchdogSettings.from(environment: env, pid: 7))
    #expect(settings.interval == .milliseconds(100))
    #expect(settings.probeTimeout == .milliseconds(100))
  }

  @Test func probeTargets() {
    #expect(HealthSelfProbe.target(forBound: "0.0.0.0:5000", tls: false) == "127.0.0.1:5000")
    #expect(HealthSelfProbe.target(forBound: "[::]:5000", tls: false) == "[::1]:5000")
    #expect(HealthSelfProbe.target(forBound: "127.0.0.1:5000", tls: false) == "127.0.0.1:5000")
    #expect(HealthSelfProbe.target(forBound: "unix:/run/r.sock", tls: true) == "unix:/run/r.sock")
    #expect(HealthSelfProbe.target(forBound: "127.0.0.1:5000", tls: true) == nil)
  }
}
