// The trainer's figures as metrics (issue 13 item 7: "the same figures go to metrics"), in the
// style of the serving metrics: counters for what happened, gauges for the last step's values.
import Metrics
import ServingTypes

struct TrainerMetrics: Sendable {
  let steps = Counter(label: "rlhfd_training_ppo_steps_total")
  let rollouts = Counter(label: "rlhfd_training_rollouts_total")
  let tokens = Counter(label: "rlhfd_training_response_tokens_total")
  let rewardModelUpdates = Counter(label: "rlhfd_training_reward_model_updates_total")
  let published = Counter(label: "rlhfd_training_versions_published_total")
  let rollbacks = Counter(label: "rlhfd_training_rollbacks_total")
  let checkpoints = Counter(label: "rlhfd_training_checkpoints_total")
  let rewardMean = Gauge(label: "rlhfd_training_reward_mean")
  let rewardStd = Gauge(label: "rlhfd_training_reward_std")
  let kl = Gauge(label: "rlhfd_training_kl")
  let clipFraction = Gauge(label: "rlhfd_training_clip_fraction")
  let valueLoss = Gauge(label: "rlhfd_training_value_loss")
  let policyLoss = Gauge(label: "rlhfd_training_policy_loss")
  let entropy = Gauge(label: "rlhfd_training_entropy")
  let stepSeconds = Gauge(label: "rlhfd_training_step_seconds")
  let rewardModelAccuracy = Gauge(label: "rlhfd_training_reward_model_held_out_accuracy")
  let paused = Gauge(label: "rlhfd_training_paused")

  func record(_ r: TrainerStepReport) {
    steps.increment()
    rollouts.increment(by: r.rollouts)
    tokens.increment(by: r.tokens)
    rewardMean.record(Double(r.rewardMean))
    rewardStd.record(Double(r.rewardStd))
    kl.record(Double(r.kl))
    clipFraction.record(Double(r.clipFraction))
    valueLoss.record(Double(r.valueLoss))
    policyLoss.record(Double(r.policyLoss))
    entropy.record(Double(r.entropy))
    stepSeconds.record(r.seconds)
  }
}
