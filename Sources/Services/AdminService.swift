// rlhfd.v1.Admin: model and version management, which need the engine and the trainer.
import API
import GRPCCore

struct AdminService: Rlhfd_V1_Admin.SimpleServiceProtocol {
  func getModelInfo(
    request: Rlhfd_V1_GetModelInfoRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_ModelInfo {
    throw NotBuilt.error("Admin.GetModelInfo", needs: "model loaded")
  }

  func listPolicyVersions(
    request: Rlhfd_V1_ListPolicyVersionsRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_ListPolicyVersionsResponse {
    throw NotBuilt.error("Admin.ListPolicyVersions", needs: "policy version registry")
  }

  func promotePolicy(
    request: Rlhfd_V1_PromotePolicyRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_PromotePolicyResponse {
    if request.version.isEmpty { throw Validation.invalid("version is required") }
    throw NotBuilt.error("Admin.PromotePolicy", needs: "policy version registry")
  }

  func rollbackPolicy(
    request: Rlhfd_V1_RollbackPolicyRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_RollbackPolicyResponse {
    throw NotBuilt.error("Admin.RollbackPolicy", needs: "policy version registry")
  }

  func pauseTraining(
    request: Rlhfd_V1_PauseTrainingRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_PauseTrainingResponse {
    throw NotBuilt.error("Admin.PauseTraining", needs: "trainer")
  }

  func resumeTraining(
    request: Rlhfd_V1_ResumeTrainingRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_ResumeTrainingResponse {
    throw NotBuilt.error("Admin.ResumeTraining", needs: "trainer")
  }

  func saveCheckpoint(
    request: Rlhfd_V1_SaveCheckpointRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_SaveCheckpointResponse {
    throw NotBuilt.error("Admin.SaveCheckpoint", needs: "trainer")
  }
}
