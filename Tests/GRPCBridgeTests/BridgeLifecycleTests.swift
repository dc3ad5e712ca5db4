// The bridge's life cycle against the real C core, without a client: binding, port reporting,
// a clear error for an address in use, and both ways of stopping.
import GRPCBridge
import GRPCCore
import Synchronization
import Testing

/// Starts `transport` listening in a child task and returns the bound addresses once reported.
private func startListening(
  _ configuration: BridgeConfiguration,
  in group: inout ThrowingTaskGroup<Void, any Error>
) async throws -> (BridgeServerTransport, [String]) {
  let (addresses, continuation) = AsyncStream<[String]>.makeStream()
  let transport = BridgeServerTransport(configuration: configuration) { continuation.yield($0) }
  group.addTask {
    try await transport.listen { _, _ in }
  }
  var iterator = addresses.makeAsyncIterator()
  let bound = try #require(await iterator.next())
  return (transport, bound)
}

@Suite(.timeLimit(.minutes(1))) struct BridgeLifecycleTests {
  @Test func portZeroReportsThePortPickedAndShutsDownGracefully() async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      let (transport, bound) = try await startListening(
        .init(addresses: ["127.0.0.1:0"]),
        in: &group
      )
      #expect(bound.count == 1)
      let port = try #require(bound.first?.split(separator: ":").last.flatMap { Int($0) })
      #expect(port > 0 && port < 65536)
      transport.beginGracefulShutdown()
      try await group.waitForAll()
    }
  }

  @Test func secondTransportOnTheSamePortFailsWithAClearError() async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      let (first, bound) = try await startListening(.init(addresses: ["127.0.0.1:0"]), in: &group)
      let address = try #require(bound.first)
      let second = BridgeServerTransport(configuration: .init(addresses: [address]))
      await #expect {
        try await second.listen { _, _ in }
      } throws: { error in
        guard let error = error as? BridgeError else { return false }
        return error.code == .bindFailed && error.message.contains(address)
          && error.message.contains("in use")
      }
      first.beginGracefulShutdown()
      try await group.waitForAll()
    }
  }

  @Test func listensOnAUnixSocketAndTCPAtOnce() async throws {
    let path = "unix:/tmp/rlhfd-bridge-test-\(UInt32.random(in: 0...UInt32.max)).sock"
    try await withThrowingTaskGroup(of: Void.self) { group in
      let (transport, bound) = try await startListening(
        .init(addresses: [path, "127.0.0.1:0"]),
        in: &group
      )
      #expect(bound.first == path)
      #expect(bound.count == 2)
      transport.beginGracefulShutdown()
      try await group.waitForAll()
    }
  }

  @Test func cancellingTheListeningTaskStopsIt() async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      _ = try await startListening(.init(addresses: ["127.0.0.1:0"]), in: &group)
      group.cancelAll()
      try await group.waitForAll()
    }
  }

  @Test func shutdownRequestedBeforeListeningStopsRightAfterBinding() async throws {
    let transport = BridgeServerTransport(configuration: .init(addresses: ["127.0.0.1:0"]))
    transport.beginGracefulShutdown()
    try await transport.listen { _, _ in }
  }

  @Test func badTLSKeyIsRejected() async throws {
    let tls = BridgeConfiguration.TLS(
      certificateChainPEM:
        "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
      privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    )
    let transport = BridgeServerTransport(
      configuration: .init(addresses: ["127.0.0.1:0"], tls: tls)
    )
    await #expect(throws: BridgeError.self) {
      try await transport.listen { _, _ in }
    }
  }

  @Test func reloadingTLSNeedsARunningTLSServer() async throws {
    let tls = BridgeConfiguration.TLS(certificateChainPEM: "x", privateKeyPEM: "y")
    let idle = BridgeServerTransport(configuration: .init(addresses: ["127.0.0.1:0"]))
    #expect(throws: BridgeError.self) { try idle.reloadTLS(tls) }
    try await withThrowingTaskGroup(of: Void.self) { group in
      let (plain, _) = try await startListening(.init(addresses: ["127.0.0.1:0"]), in: &group)
      do {
        try plain.reloadTLS(tls)
        Issue.record("a plaintext server took TLS files")
      } catch let error as BridgeError {
        #expect(error.message.contains("without TLS"))
      }
      plain.beginGracefulShutdown()
      try await group.waitForAll()
    }
  }
}
