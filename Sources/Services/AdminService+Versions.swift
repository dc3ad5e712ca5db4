// rlhfd.v1.Admin's policy-version RPCs: validated here (INVALID_ARGUMENT), carried out by the
// daemon's registry (`PolicyVersionAdmin`), whose errors map to NOT_FOUND, ALREADY_EXISTS,
// FAILED_PRECONDITION or UNAVAILABLE. Without a policy model they answer UNIMPLEMENTED.
import API
import GRPCCore
import ServingTypes

extension AdminService {
  func listPolicyVersions(
    request: Rlhfd_V1_ListPolicyVersionsRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_ListPolicyVersionsResponse {
    let listing = try run("Admin.ListPolicyVersions") { versions throws(BackendError) in
      try versions.list()
    }
    var response = Rlhfd_V1_ListPolicyVersionsResponse()
    var versions = listing.versions
    if request.limit > 0 { versions = Array(versions.prefix(Int(request.limit))) }
    response.versions = versions.map { Self.message($0, promoted: listing.promoted) }
    response.promotedVersion = listing.promoted
    return response
  }

  func registerPolicyVersion(
    request: Rlhfd_V1_RegisterPolicyVersionRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_RegisterPolicyVersionResponse {
    try Self.checkID(request.version, field: "version")
    if !request.parentVersion.isEmpty {
      try Self.checkID(request.parentVersion, field: "parent_version")
    }
    if request.adapterPath.isEmpty {
      throw Validation.invalid("adapter_path is required: a PEFT adapter directory on the server")
    }
    if !request.adapterPath.hasPrefix("/") {
      throw Validation.invalid(
        "adapter_path '\(request.adapterPath.prefix(200))' must be an absolute path on the server"
      )
    }
    let info = try run("Admin.RegisterPolicyVersion") { versions throws(BackendError) in
      try versions.register(
        id: request.version,
        adapterPath: request.adapterPath,
        parent: request.parentVersion
      )
    }
    var response = Rlhfd_V1_RegisterPolicyVersionResponse()
    response.version = Self.message(info, promoted: "")
    return response
  }

  func promotePolicy(
    request: Rlhfd_V1_PromotePolicyRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_PromotePolicyResponse {
    if request.version.isEmpty { throw Validation.invalid("version is required") }
    let change = try run("Admin.PromotePolicy") { versions throws(BackendError) in
      try versions.promote(request.version)
    }
    var response = Rlhfd_V1_PromotePolicyResponse()
    response.previousVersion = change.previous
    response.promotedVersion = change.promoted
    return response
  }

  func rollbackPolicy(
    request: Rlhfd_V1_RollbackPolicyRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_RollbackPolicyResponse {
    let change = try run("Admin.RollbackPolicy") { versions throws(BackendError) in
      try versions.rollback(to: request.version)
    }
    var response = Rlhfd_V1_RollbackPolicyResponse()
    response.previousVersion = change.previous
    response.promotedVersion = change.promoted
    return response
  }

  func retirePolicyVersion(
    request: Rlhfd_V1_RetirePolicyVersionRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_RetirePolicyVersionResponse {
    if request.version.isEmpty { throw Validation.invalid("version is required") }
    try run("Admin.RetirePolicyVersion") { versions throws(BackendError) in
      try versions.retire(request.version)
    }
    var response = Rlhfd_V1_RetirePolicyVersionResponse()
    response.version = request.version
    return response
  }

  func saveCheckpoint(
    request: Rlhfd_V1_SaveCheckpointRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_SaveCheckpointResponse {
    if !request.policyVersion.isEmpty {
      try Self.checkID(request.policyVersion, field: "policy_version")
    }
    if !request.path.isEmpty && !request.path.hasPrefix("/") {
      throw Validation.invalid("path '\(request.path.prefix(256))' must be absolute (or empty)")
    }
    let saved = try run("Admin.SaveCheckpoint") { versions throws(BackendError) in
      try versions.saveCheckpoint(
        version: request.policyVersion,
        path: request.path.isEmpty ? nil : request.path
      )
    }
    var response = Rlhfd_V1_SaveCheckpointResponse()
    response.checkpoint.checkpointID = saved.id
    response.checkpoint.path = saved.path
    response.checkpoint.policyVersion = saved.version
    return response
  }

  /// Runs `body` on the registry, mapping its errors to statuses.
  private func run<T>(
    _ method: String,
    _ body: (any PolicyVersionAdmin) throws(BackendError) -> T
  ) throws(RPCError) -> T {
    guard let versions else { throw NotBuilt.error(method, needs: "policy model") }
    do { return try body(versions) } catch { throw PolicyService.rpcError(error) }
  }

  private static func checkID(_ id: String, field: String) throws(RPCError) {
    if let problem = PolicyVersionInfo.problem(withID: id) {
      throw Validation.invalid("\(field) '\(id.prefix(128))' \(problem)")
    }
  }

  static func message(_ info: PolicyVersionInfo, promoted: String) -> Rlhfd_V1_PolicyVersion {
    var message = Rlhfd_V1_PolicyVersion()
    message.version = info.id
    message.parentVersion = info.parent
    message.createdUnixMs = info.createdUnixMs
    message.promoted = info.id == promoted
    message.source = info.source
    message.adapterPath = info.adapterPath ?? ""
    message.adapterBytes = UInt64(clamping: info.adapterBytes)
    return message
  }
}
