import Engine
import Serving
import Testing
import Training

@Test func presetsAreValidAndKeepThePapersShape() {
  #expect(TrainerSettings.paper.validate().isEmpty)
  #expect(TrainerSettings.small.validate().isEmpty)
  let paper = TrainerSettings.paper.ppo
  #expect(paper.klCoefficient == 0.1 && paper.clipRange == 0.2 && paper.valueClipRange == 0.2)
  #expect(paper.valueCoefficient == 0.1 && paper.gamma == 1 && paper.lambda == 1)
  #expect(!paper.whitenRewards && paper.rewardScale == 10 && paper.window == .padded)
  #expect(paper.responseLength == 896 && paper.extraStopTokenIds == [1577, 29973])
  // 2 epochs × 512/256 minibatches = 4 optimizer steps per PPO step, in both presets.
  #expect(paper.optimizerStepsPerPPOStep == 4 && PPOSettings.small.optimizerStepsPerPPOStep == 4)
  #expect(PPOSettings.small.window == .tokens && PPOSettings.small.extraStopTokenIds.isEmpty)
  let optimizer = TrainerSettings.paper.ppoOptimizer
  #expect(
    optimizer.learningRate == 3e-5 && optimizer.maxGradNorm == 1 && optimizer.adamW.weightDecay == 0
  )
  #expect(optimizer.learningRateSchedule == .cosine(warmupSteps: 5, totalSteps: 560))
  #expect(
    RewardModelTrainingSettings.paper.optimizer.learningRateSchedule == .constant(warmupSteps: 6)
  )
}

@Test func validationNamesEveryBadSetting() {
  var s = TrainerSettings.small
  s.ppo.stepBatchSize = 5  // does not divide 16; micro-batch 2 does not divide it either
  s.ppo.clipRange = 1.5
  s.ppo.rewardWeights.lengthNormalizer = 896  // not the 128-token window
  s.ppoOptimizer.totalSteps = 1  // < warmup 2 with cosine
  s.policyLoRA.targets = ["q_proj", "lm_head"]
  s.rewardModel.heldOutFraction = 0
  s.publishEvery = 0
  let fields = s.validate().map(\.field)
  #expect(
    fields == [
      "ppo.step_batch_size", "ppo.micro_batch_size", "ppo.reward_weights.length_normalizer",
      "ppo.clip_range", "ppo_optimizer.total_steps", "policy_lora.targets",
      "reward_model.held_out_fraction", "publish_every",
    ]
  )
  #expect(s.validate().allSatisfy { !$0.message.isEmpty })
  #expect(
    s.validate()[0].description == "'ppo.step_batch_size' must divide rollout_batch_size (16)"
  )
}

@Test func adoptionRule() {
  let rm = RewardModelTrainingSettings.paper
  #expect(rm.adopts(candidate: 0.70, current: 0.70))
  #expect(!rm.adopts(candidate: 0.69, current: 0.70))
  #expect(rm.adopts(candidate: 0.10, current: nil))
  var lenient = rm
  lenient.accuracyTolerance = 0.02
  #expect(lenient.adopts(candidate: 0.69, current: 0.70))
  lenient.adoptOnlyIfAccuracyHolds = false
  #expect(lenient.adopts(candidate: 0.1, current: 0.9))
}
