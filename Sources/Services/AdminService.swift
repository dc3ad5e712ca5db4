// rlhfd.v1.Admin: model and version management, which need the engine and the trainer.
import API
import GRPCCore
import ServingTypes
import SwiftProtobuf

struct AdminService: Rlhfd_V1_Admin.SimpleServiceProtocol {
  /// The served models; nil in a catalog built without a daemon behind it.
  var modelInfo: ModelInfoSource?
  /// The policy-version registry; nil without a policy model (AdminService+Versions).
  var versions: (any PolicyVersionAdmin)?
  /// The trainer; nil when training is off.
  var trainer: (any TrainerControl)?
  /// GetTrainingStatus's full answer (pending counts, promoted version).
  var trainingStatus: (@Sendable (TrainerStatus) throws(RPCError) -> Rlhfd_V1_TrainingStatus)?

  func getModelInfo(
    request: Rlhfd_V1_GetModelInfoRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_ModelInfo {
    guard let modelInfo else { throw NotBuilt.error("Admin.GetModelInfo", needs: "model") }
    let info: ModelInfo
    do { info = try modelInfo() } catch { throw PolicyService.rpcError(error) }
    var message = Rlhfd_V1_ModelInfo()
    message.policyModelName = info.policyModelName
    message.rewardModelName = info.rewardModelName
    message.architecture = info.architecture
    message.contextLength = UInt32(clamping: info.contextLength)
    message.vocabSize = UInt32(clamping: info.vocabSize)
    message.imageSize = UInt32(clamping: info.imageSize)
    message.imageTokens = UInt32(clamping: info.imageTokens)
    message.policyVersion = info.policyVersion
    message.rewardModelVersion = info.rewardModelVersion
    message.daemonVersion = info.daemonVersion
    message.computeKernels = info.computeKernels
    message.policyVersions = info.policyVersions
    return message
  }

  func pauseTraining(
    request: Rlhfd_V1_PauseTrainingRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_PauseTrainingResponse {
    if request.reason.utf8.count > 1024 {
      throw Validation.invalid("reason is longer than 1024 bytes")
    }
    let trainer = try trainerOrError("Admin.PauseTraining")
    let status: TrainerStatus
    do { status = try await trainer.pause(reason: request.reason) } catch {
      throw PolicyService.rpcError(error)
    }
    return .with { $0.status = (try? trainingStatus?(status)) ?? TrainingMapping.status(status) }
  }

  func resumeTraining(
    request: Rlhfd_V1_ResumeTrainingRequest,
    context: ServerContext
  ) async throws -> Rlhfd_V1_ResumeTrainingResponse {
    let trainer = try trainerOrError("Admin.ResumeTraining")
    let status: TrainerStatus
    do { status = try await trainer.resume() } catch { throw PolicyService.rpcError(error) }
    return .with { $0.status = (try? trainingStatus?(status)) ?? TrainingMapping.status(status) }
  }

  private func trainerOrError(_ method: String) throws(RPCError) -> any TrainerControl {
    guard let trainer else { throw NotBuilt.error(method, needs: "trainer") }
    return trainer
  }
}
