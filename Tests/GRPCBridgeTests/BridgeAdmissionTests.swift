// The transport's admission check against the real C core: a refused call ends with the status
// the check gave, before any handler runs; other calls reach the handler as before.
import GRPCBridge
import GRPCCore
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1))) struct BridgeAdmissionTests {
  @Test func aRefusedCallEndsWithItsStatusAndNeverReachesTheHandler() async throws {
    let asked = Names()
    let handled = Names()
    let (addresses, continuation) = AsyncStream<[String]>.makeStream()
    let transport = BridgeServerTransport(
      configuration: .init(addresses: ["127.0.0.1:0"]),
      admission: BridgeAdmission { method, metadata in
        asked.append(method.fullyQualifiedMethod)
        guard method.method == "Full" else { return nil }
        let tag = metadata[stringValues: "x-test"].first(where: { _ in true }) ?? "none"
        return RPCError(code: .resourceExhausted, message: "the test queue is full (\(tag))")
      },
      onListening: { continuation.yield($0) }
    )
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        try await transport.listen { stream, context in
          handled.append(context.descriptor.fullyQualifiedMethod)
          try? await stream.outbound.write(
            .status(Status(code: .unimplemented, message: "handled"), [:])
          )
          await stream.outbound.finish()
        }
      }
      var iterator = addresses.makeAsyncIterator()
      let target = try #require(await iterator.next()?.first)
      let refused = SelfProbe.unary(
        target: target,
        method: "/test.Queue/Full",
        request: [],
        timeout: .seconds(10)
      )
      #expect(refused.status == 8)  // RESOURCE_EXHAUSTED
      #expect(refused.message == "the test queue is full (none)")
      let admitted = SelfProbe.unary(
        target: target,
        method: "/test.Queue/Open",
        request: [],
        timeout: .seconds(10)
      )
      #expect(admitted.status == 12)  // UNIMPLEMENTED, from the handler
      #expect(admitted.message == "handled")
      transport.beginGracefulShutdown()
      try await group.waitForAll()
    }
    #expect(asked.all == ["test.Queue/Full", "test.Queue/Open"])
    #expect(handled.all == ["test.Queue/Open"])
  }
}

private final class Names: Sendable {
  private let names = Mutex<[String]>([])
  func append(_ name: String) { names.withLock { $0.append(name) } }
  var all: [String] { names.withLock { $0 } }
}
