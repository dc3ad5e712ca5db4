// `TrainingBench --ppo`: one whole PPO step (`PPOStep.run`: the rollout side's three forwards per
// rollout, then epochs × minibatches of micro-batched policy and value forward/backward, one
// AdamW per minibatch) on B rollouts of random text tokens (a Q-token query, an R-token response
// without EOS, so nothing is truncated), the settings' LoRA (rank overridable) on the policy and
// the value model, fp32. Figures per 1k response tokens (B × R per step). The PyTorch peer:
// tools/reference/bench_torch_ppo_step.py, the same shapes.
import BenchSupport
import Checkpoints
import Engine
import Models
import Serving
import Training

struct PPOBench: ~Copyable {
  let step: PPOStep
  let rollouts: [PPORollout]
  var models: PPOModels
  var index = 0
  let describe: String
  let peerArguments: [String]

  init(_ o: Options) throws {
    let trainer: TrainerSettings = o.paper ? .paper : .small
    var lora = trainer.policyLoRA
    lora.rank = o.rank ?? lora.rank
    var settings = trainer.ppo
    settings.rolloutBatchSize = o.rollouts
    settings.stepBatchSize = o.stepBatch
    settings.microBatchSize = o.ppoMicro
    settings.epochs = o.epochs
    settings.responseLength = o.response
    settings.queryLength = max(settings.queryLength, o.query)
    settings.rewardWeights.lengthNormalizer = Float(o.response)
    settings.window = .tokens  // the only window PPOStep runs
    settings.extraStopTokenIds = []
    var optimizer = trainer.ppoOptimizer
    optimizer.warmupSteps = 0  // every step moves the weights
    step = PPOStep(settings: settings, optimizer: optimizer, eos: 2, seed: 7)

    let decoderLoRA = try Self.decoderLoRA(lora)
    let policyWeights = try LlavaWeights(directory: o.checkpoint, precision: o.precision)
    let valueWeights =
      o.valueCheckpoint == o.checkpoint
      ? policyWeights : try LlavaWeights(directory: o.valueCheckpoint, precision: o.precision)
    let policy = try DecoderTraining(
      weights: policyWeights,
      lora: decoderLoRA,
      transposedWeights: o.transposed
    )
    let value = try DecoderTraining(
      weights: valueWeights,
      lora: decoderLoRA,
      head: .zero(bias: true),
      transposedWeights: o.transposed
    )
    let policyParameters = try policy.makeParameters(seed: 1)
    let referenceParameters = try policy.makeParameters(seed: 2)
    let valueParameters = try value.makeParameters(seed: 3)
    // B (and the value head) non-zero: no adapter is the identity, every gradient flows.
    Self.perturb(policyParameters, policy, salt: 1)
    Self.perturb(referenceParameters, policy, salt: 2)
    Self.perturb(valueParameters, value, salt: 3)
    models = PPOModels(
      policy: policy,
      policyParameters: policyParameters,
      reference: policy,
      referenceParameters: referenceParameters,
      value: value,
      valueParameters: valueParameters
    )

    let text = policyWeights.config.text
    let vocabulary = min(Int(text.vocabSize), policyWeights.config.imageTokenIndex)
    var generator = Xoshiro256StarStar(seed: 1)
    func random(_ n: Int) -> [Int32] {
      (0..<n).map { _ in Int32(3 + Int(generator.next() % UInt64(min(vocabulary, 32000) - 3))) }
    }
    rollouts = (0..<o.rollouts).map { b in
      PPORollout(
        query: [1] + random(o.query - 1),
        response: random(o.response),
        rewardModelScore: Double(b % 5) * 0.3 - 0.6
      )
    }
    describe =
      "PPO step: policy \(o.checkpoint), value \(o.valueCheckpoint) (\(text.numHiddenLayers) layers, C \(text.hiddenSize)), \(o.rollouts) rollouts of query \(o.query) + response \(o.response) tokens, \(o.epochs) epochs × minibatches of \(o.stepBatch) in micro-batches of \(o.ppoMicro), LoRA r \(lora.rank) α \(lora.alpha) on \(lora.targets.count) targets (policy and value), \(o.precision.rawValue) products\(o.transposed ? ", transposed panels" : "")"
    peerArguments = [
      "--policy", o.checkpoint, "--value", o.valueCheckpoint, "--rollouts", "\(o.rollouts)",
      "--step-batch", "\(o.stepBatch)", "--micro", "\(o.ppoMicro)", "--epochs", "\(o.epochs)",
      "--query", "\(o.query)", "--response", "\(o.response)", "--rank", "\(lora.rank)",
      "--alpha", "\(lora.alpha)", "--lr", "\(optimizer.learningRate)",
      "--max-grad-norm", "\(optimizer.maxGradNorm ?? 0)",
    ]
  }

  /// Units of one step: its response tokens.
  var units: Double { Double(rollouts.reduce(0) { $0 + $1.response.count }) }

  /// One PPO step: its parts' seconds and the wall time around it.
  mutating func once() throws -> (TrainingStepTimes, Double) {
    let t0 = Clock.now()
    let result = try step.run(rollouts, models: &models, step: index, decode: { _ in "" })
    index += 1
    return (result.times, Clock.now() - t0)
  }

  static func decoderLoRA(_ lora: LoRASettings) throws -> DecoderLoRASettings {
    let targets = try lora.targets.map { name in
      guard let linear = DecoderLinear.allCases.first(where: { $0.moduleName == name }) else {
        throw BenchError("unknown LoRA target \(name)")
      }
      return linear
    }
    return DecoderLoRASettings(
      targets: targets,
      rank: lora.rank,
      alpha: Double(lora.alpha),
      dropout: lora.dropout
    )
  }

  /// Small deterministic values in every B and in the head (A is already random).
  static func perturb(
    _ set: borrowing TrainableParameters,
    _ training: DecoderTraining,
    salt: Int
  ) {
    for (_, _, s) in training.trainables.adapted {
      let b = set.parameters(s.b)
      for i in 0..<s.b.count { b[i] = Float((i * 7919 + salt * 104_729) % 1000) * 1e-5 - 5e-3 }
    }
    for head in [training.trainables.head, training.trainables.headBias].compactMap({ $0 }) {
      let w = set.parameters(head)
      for i in 0..<head.count { w[i] = Float((i * 31 + salt) % 17) * 0.01 - 0.08 }
    }
  }
}
