// The `connections:` section: defaults, every key, checks, and the bridge limits it becomes.
import Daemon
import GRPCBridge
import Testing

@Suite struct ConnectionSettingsTests {
  @Test func defaultsBoundStreamsAndCloseIdleConnections() throws {
    let limits = try DaemonConfiguration.parse(yaml: "").bridgeConfiguration().connectionLimits
    #expect(limits == ConnectionLimits())
    #expect(limits.maxConcurrentStreams == 32)
    #expect(limits.idleTimeout == .seconds(300))
    #expect(limits.keepaliveTime == .seconds(60))
    #expect(limits.keepaliveTimeout == .seconds(20))
    #expect(limits.maxAge == nil)
    #expect(limits.handshakeTimeout == .seconds(10))
  }

  @Test func readsEveryKeyAndZeroMeansNever() throws {
    let configuration = try DaemonConfiguration.parse(
      yaml: """
        connections:
          max_concurrent_streams: 8
          idle_timeout_seconds: 0
          keepalive_time_seconds: 0.5
          keepalive_timeout_seconds: 2
          max_age_seconds: 1800
          max_age_grace_seconds: 30
          handshake_timeout_seconds: 5
        """
    )
    let limits = try configuration.bridgeConfiguration().connectionLimits
    #expect(limits.maxConcurrentStreams == 8)
    #expect(limits.idleTimeout == nil)
    #expect(limits.keepaliveTime == .milliseconds(500))
    #expect(limits.keepaliveTimeout == .seconds(2))
    #expect(limits.maxAge == .seconds(1800))
    #expect(limits.maxAgeGrace == .seconds(30))
    #expect(limits.handshakeTimeout == .seconds(5))
  }

  @Test(arguments: [
    ("connections:\n  max_concurrent_streams: 0", "'connections.max_concurrent_streams'"),
    ("connections:\n  idle_timeout_seconds: -1", "'connections.idle_timeout_seconds'"),
    ("connections:\n  keepalive_timeout_seconds: 0", "'connections.keepalive_timeout_seconds'"),
    ("connections:\n  handshake_timeout_seconds: .nan", "'connections.handshake_timeout_seconds'"),
    ("connections:\n  idle_timeout: 5", "unknown configuration key 'connections.idle_timeout'"),
  ])
  func badValuesAreRejectedWithTheKey(yaml: String, expected: String) {
    #expect {
      try DaemonConfiguration.parse(yaml: yaml)
    } throws: { error in
      "\(error)".contains(expected)
    }
  }
}
