import API
import GRPCCore
import Services
import SwiftProtobuf
import Testing

@Suite struct HealthTests {
  @Test func storeStartsNotServingAndKnowsItsServices() {
    let store = HealthStatusStore(services: ["a.B"])
    #expect(store.status(of: "") == .notServing)
    #expect(store.status(of: "a.B") == .notServing)
    #expect(store.status(of: "c.D") == nil)
    store.setAll(.serving)
    #expect(store.status(of: "a.B") == .serving)
    store.set(.notServing, for: "a.B")
    #expect(store.status(of: "a.B") == .notServing)
    #expect(store.status(of: "") == .serving)
  }

  @Test func nothingTurnsServingOnceDraining() {
    let store = HealthStatusStore(services: ["a.B"])
    store.close()
    store.setAll(.serving)  // e.g. a model load that finished after SIGTERM
    store.set(.serving, for: "a.B")
    #expect(store.status(of: "") == .notServing)
    #expect(store.status(of: "a.B") == .notServing)
  }

  @Test func watchSeesCurrentThenChangesAndEndsOnClose() async {
    let store = HealthStatusStore(services: ["a.B"])
    var iterator = store.watch("a.B").makeAsyncIterator()
    #expect(await iterator.next() == .some(.notServing))
    store.set(.serving, for: "a.B")
    #expect(await iterator.next() == .some(.serving))
    store.close()
    #expect(await iterator.next() == .some(.notServing))
    #expect(await iterator.next() == nil)
    // A watch started after close gets the last status and ends.
    var late = store.watch("a.B").makeAsyncIterator()
    #expect(await late.next() == .some(.notServing))
    #expect(await late.next() == nil)
  }

  @Test func checkOverGRPC() async throws {
    try await withServices { client, health in
      let stub = Grpc_Health_V1_Health.Client(wrapping: client)
      let overall = try await stub.check(.with { $0.service = "" })
      #expect(overall.status == .serving)
      let policy = try await stub.check(.with { $0.service = "rlhfd.v1.Policy" })
      #expect(policy.status == .serving)
      health.set(.notServing, for: "rlhfd.v1.Policy")
      #expect(try await stub.check(.with { $0.service = "rlhfd.v1.Policy" }).status == .notServing)
      let error = await rpcError { _ = try await stub.check(.with { $0.service = "no.Such" }) }
      #expect(error?.code == .notFound)
      #expect(error?.message.contains("no.Such") == true)
    }
  }

  @Test func watchOverGRPCEndsWhenTheStoreCloses() async throws {
    try await withServices { client, health in
      let stub = Grpc_Health_V1_Health.Client(wrapping: client)
      let statuses = try await stub.watch(.with { $0.service = "" }) { response in
        var seen: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
        for try await message in response.messages {
          seen.append(message.status)
          if seen.count == 1 { health.close() }
        }
        return seen
      }
      #expect(statuses == [.serving, .notServing])
    }
  }
}
