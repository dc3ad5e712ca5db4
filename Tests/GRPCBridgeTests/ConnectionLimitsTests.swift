// How the connection limits become the core's channel args.
import Testing

@testable import GRPCBridge

@Suite struct ConnectionLimitsTests {
  @Test func defaultsBecomeChannelArgs() {
    let args = BridgeConfiguration(addresses: ["127.0.0.1:0"]).coreChannelArgs
    #expect(args["grpc.max_concurrent_streams"] == 32)
    #expect(args["grpc.max_connection_idle_ms"] == 300_000)
    #expect(args["grpc.keepalive_time_ms"] == 60_000)
    #expect(args["grpc.keepalive_timeout_ms"] == 20_000)
    #expect(args["grpc.http2.max_pings_without_data"] == 0)
    #expect(args["grpc.max_connection_age_ms"] == Int32.max)  // the core's "never"
    #expect(args["grpc.server_handshake_timeout_ms"] == 10_000)
  }

  @Test func unsetIsNeverAndDurationsAreClampedToTheCoresRange() {
    let limits = ConnectionLimits(
      maxConcurrentStreams: 1 << 40,
      idleTimeout: nil,
      keepaliveTime: .seconds(Int64(Int32.max)),
      keepaliveTimeout: .microseconds(10),
      maxAge: .milliseconds(1500)
    )
    let args = limits.channelArgs
    #expect(args["grpc.max_concurrent_streams"] == Int32.max)
    #expect(args["grpc.max_connection_idle_ms"] == Int32.max)
    #expect(args["grpc.keepalive_time_ms"] == Int32.max)
    #expect(args["grpc.keepalive_timeout_ms"] == 1)
    #expect(args["grpc.max_connection_age_ms"] == 1500)
  }

  @Test func explicitChannelArgsOverrideTheLimits() {
    let configuration = BridgeConfiguration(
      addresses: ["127.0.0.1:0"],
      channelArgs: ["grpc.max_concurrent_streams": 7]
    )
    #expect(configuration.coreChannelArgs["grpc.max_concurrent_streams"] == 7)
  }
}
