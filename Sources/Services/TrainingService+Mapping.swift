// The trainer's native status and events (ServingTypes) as rlhfd.v1 messages.
import API
import GRPCCore
import ServingTypes
import SwiftProtobuf

enum TrainingMapping {
  static func state(_ state: TrainerState) -> Rlhfd_V1_TrainingState {
    switch state {
    case .disabled: .disabled
    case .idle: .idle
    case .running: .running
    case .paused: .paused
    case .failed: .failed
    }
  }

  /// `status` with the store's pending counts and the promoted version added by the caller.
  static func status(_ status: TrainerStatus) -> Rlhfd_V1_TrainingStatus {
    .with {
      $0.state = state(status.state)
      $0.message = status.message
      $0.step = status.step
      $0.latestPolicyVersion = status.latestPolicyVersion
      $0.rewardModelVersion = status.rewardModelVersion
      $0.lastMeanReward = status.lastMeanReward
      $0.lastStepUnixMs = status.lastStepUnixMs
    }
  }

  static func event(
    _ event: TrainerEvent,
    status complete: (TrainerStatus) throws(RPCError) -> Rlhfd_V1_TrainingStatus
  ) throws(RPCError) -> Rlhfd_V1_TrainingEvent {
    var message = Rlhfd_V1_TrainingEvent()
    message.sequence = event.sequence
    message.timeUnixMs = event.timeUnixMs
    switch event.kind {
    case .status(let status):
      message.status = try complete(status)
    case .rollouts(let step, let done, let total):
      message.rollouts = .with {
        $0.step = step
        $0.done = UInt32(clamping: done)
        $0.total = UInt32(clamping: total)
      }
    case .rewardModelUpdated(let report):
      message.rewardModelUpdated = rewardModel(report)
    case .step(let report):
      message.step = step(report)
    case .published(let version, let parent, let step, let promoted):
      message.policyPublished = .with {
        $0.policyVersion = version
        $0.parentVersion = parent
        $0.step = step
        $0.promoted = promoted
      }
    case .promotionChanged(let from, let to, let rolledBack, let reason):
      message.promotionChanged = .with {
        $0.fromVersion = from
        $0.toVersion = to
        $0.rolledBack = rolledBack
        $0.reason = reason
      }
    case .checkpointSaved(let id, let path, let version):
      message.checkpointSaved = .with {
        $0.checkpointID = id
        $0.path = path
        $0.policyVersion = version
      }
    }
    return message
  }

  static func step(_ report: TrainerStepReport) -> Rlhfd_V1_TrainingStep {
    .with {
      $0.step = report.step
      $0.rollouts = UInt32(clamping: report.rollouts)
      $0.tokens = UInt64(clamping: report.tokens)
      $0.meanReward = report.rewardMean
      $0.rewardStd = report.rewardStd
      $0.kl = report.kl
      $0.policyLoss = report.policyLoss
      $0.valueLoss = report.valueLoss
      $0.clipFraction = report.clipFraction
      $0.entropy = report.entropy
      $0.approxKl = report.approxKL
      $0.gradNorm = report.gradNorm
      $0.learningRate = report.learningRate
      $0.stepTimeMs = report.seconds * 1000
    }
  }

  static func rewardModel(_ report: RewardModelUpdateReport) -> Rlhfd_V1_RewardModelUpdated {
    .with {
      $0.rewardModelVersion = report.version
      $0.parentVersion = report.parent
      $0.trainPairs = UInt32(clamping: report.trainPairs)
      $0.heldOutPairs = UInt32(clamping: report.heldOutPairs)
      $0.heldOutAccuracy = report.heldOutAccuracy
      $0.previousHeldOutAccuracy = report.previousHeldOutAccuracy
      $0.adopted = report.adopted
      $0.reason = report.reason
    }
  }
}
