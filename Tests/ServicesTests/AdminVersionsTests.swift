// Admin's policy-version RPCs: validation (INVALID_ARGUMENT before the registry is asked),
// the mapping of the registry's answers and errors, UNIMPLEMENTED without a policy model.
import API
import GRPCCore
import Services
import ServingTypes
import SwiftProtobuf
import Synchronization
import Testing

/// A registry that records calls and answers from a script.
final class FakeVersionAdmin: PolicyVersionAdmin {
  let calls = Mutex<[String]>([])
  let failure: BackendError?

  init(failure: BackendError? = nil) { self.failure = failure }

  private func call(_ what: String) throws(BackendError) {
    calls.withLock { $0.append(what) }
    if let failure { throw failure }
  }

  func list() throws(BackendError) -> PolicyVersionListing {
    try call("list")
    return PolicyVersionListing(
      versions: [
        PolicyVersionInfo(
          id: "v2",
          parent: "v1",
          source: "admin",
          adapterPath: "/a/v2",
          createdUnixMs: 3
        ),
        PolicyVersionInfo(
          id: "v1",
          parent: "base",
          source: "config",
          adapterPath: "/a/v1",
          createdUnixMs: 2
        ),
        PolicyVersionInfo(
          id: "base",
          parent: "",
          source: "base",
          adapterPath: nil,
          createdUnixMs: 1
        ),
      ],
      promoted: "v1"
    )
  }

  func register(id: String, adapterPath: String, parent: String) throws(BackendError)
    -> PolicyVersionInfo
  {
    try call("register \(id) \(adapterPath) \(parent)")
    return PolicyVersionInfo(
      id: id,
      parent: parent,
      source: "admin",
      adapterPath: adapterPath,
      createdUnixMs: 9
    )
  }

  func promote(_ id: String) throws(BackendError) -> PromotionChange {
    try call("promote \(id)")
    return PromotionChange(previous: "base", promoted: id)
  }

  func rollback(to id: String) throws(BackendError) -> PromotionChange {
    try call("rollback \(id)")
    return PromotionChange(previous: "v2", promoted: id.isEmpty ? "v1" : id)
  }

  func retire(_ id: String) throws(BackendError) { try call("retire \(id)") }
  func saveCheckpoint(version id: String, path: String?) throws(BackendError) -> SavedCheckpoint {
    try call("save \(id) \(path ?? "-")")
    return SavedCheckpoint(id: "\(id)-1", path: path ?? "/state/checkpoints/\(id)-1", version: id)
  }
}

@Suite struct AdminVersionsTests {
  @Test func versionRPCsReachTheRegistry() async throws {
    let fake = FakeVersionAdmin()
    try await withServices(versions: fake) { client, _ in
      let admin = Rlhfd_V1_Admin.Client(wrapping: client)
      let listing = try await admin.listPolicyVersions(.with { $0.limit = 2 })
      #expect(listing.versions.map(\.version) == ["v2", "v1"])
      #expect(listing.promotedVersion == "v1")
      #expect(listing.versions.map(\.promoted) == [false, true])
      #expect(listing.versions[1].source == "config" && listing.versions[1].adapterPath == "/a/v1")
      let registered = try await admin.registerPolicyVersion(
        .with {
          $0.version = "v3"
          $0.adapterPath = "/a/v3"
          $0.parentVersion = "v2"
        }
      )
      #expect(registered.version.version == "v3" && registered.version.parentVersion == "v2")
      let promoted = try await admin.promotePolicy(.with { $0.version = "v3" })
      #expect(promoted.previousVersion == "base" && promoted.promotedVersion == "v3")
      let rolledBack = try await admin.rollbackPolicy(.init())
      #expect(rolledBack.previousVersion == "v2" && rolledBack.promotedVersion == "v1")
      let retired = try await admin.retirePolicyVersion(.with { $0.version = "v2" })
      #expect(retired.version == "v2")
      let saved = try await admin.saveCheckpoint(.with { $0.policyVersion = "v1" })
      #expect(saved.checkpoint.policyVersion == "v1" && saved.checkpoint.checkpointID == "v1-1")
      let placed = try await admin.saveCheckpoint(.with { $0.path = "/x/ckpt" })
      #expect(placed.checkpoint.path == "/x/ckpt")
      await #expect(throws: RPCError.self) {
        _ = try await admin.saveCheckpoint(.with { $0.path = "relative/dir" })
      }
    }
    #expect(
      fake.calls.withLock { $0 } == [
        "list", "register v3 /a/v3 v2", "promote v3", "rollback ", "retire v2", "save v1 -",
        "save  /x/ckpt",
      ]
    )
  }

  @Test func badRequestsAreRefusedBeforeTheRegistry() async throws {
    let fake = FakeVersionAdmin()
    try await withServices(versions: fake) { client, _ in
      let admin = Rlhfd_V1_Admin.Client(wrapping: client)
      let cases: [(Rlhfd_V1_RegisterPolicyVersionRequest, String)] = [
        (.with { $0.adapterPath = "/a" }, "version"),
        (
          .with {
            $0.version = "v 1"
            $0.adapterPath = "/a"
          }, "character"
        ),
        (.with { $0.version = "v1" }, "adapter_path is required"),
        (
          .with {
            $0.version = "v1"
            $0.adapterPath = "relative/dir"
          }, "absolute"
        ),
        (
          .with {
            $0.version = "v1"
            $0.adapterPath = "/a"
            $0.parentVersion = "p/q"
          }, "parent_version"
        ),
      ]
      for (request, words) in cases {
        let error = await rpcError { _ = try await admin.registerPolicyVersion(request) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(words) == true, "\(error?.message ?? "")")
      }
      let promote = await rpcError { _ = try await admin.promotePolicy(.init()) }
      #expect(promote?.code == .invalidArgument)
      let retire = await rpcError { _ = try await admin.retirePolicyVersion(.init()) }
      #expect(retire?.code == .invalidArgument)
    }
    #expect(fake.calls.withLock { $0 }.isEmpty)
  }

  @Test func registryErrorsKeepTheirCodeAndMessage() async throws {
    let codes: [(BackendError.Code, RPCError.Code)] = [
      (.notFound, .notFound), (.alreadyExists, .alreadyExists),
      (.failedPrecondition, .failedPrecondition), (.unavailable, .unavailable),
    ]
    for (code, status) in codes {
      let fake = FakeVersionAdmin(failure: BackendError(code, "policy version 'v2' says no"))
      try await withServices(versions: fake) { client, _ in
        let admin = Rlhfd_V1_Admin.Client(wrapping: client)
        let error = await rpcError {
          _ = try await admin.retirePolicyVersion(.with { $0.version = "v2" })
        }
        #expect(error?.code == status)
        #expect(error?.message == "policy version 'v2' says no")
      }
    }
  }

  @Test func withoutAPolicyModelTheyAreUnimplemented() async throws {
    try await withServices { client, _ in
      let admin = Rlhfd_V1_Admin.Client(wrapping: client)
      let error = await rpcError { _ = try await admin.listPolicyVersions(.init()) }
      #expect(error?.code == .unimplemented)
    }
  }
}
