// `TrainingBench --rm`: one reward-model optimizer step (`RewardModelUpdate.step`) on a batch of
// random text-only pairs — both sequences of a pair share a prompt of T − R tokens and end in
// R-token responses (T tokens each, the reward input's length) — with the settings' LoRA (rank
// overridable), batch and micro-batch; clipping, AdamW as the preset. Figures per 1k pairs. A
// checkpoint without a score head (a policy-shaped one) gets a fresh head with small values. The
// PyTorch peer: tools/reference/bench_torch_rm_step.py, the same shapes.
import BenchSupport
import Checkpoints
import Engine
import Models
import Training

struct RMBench: ~Copyable {
  var update: RewardModelUpdate
  let pairs: [PreferenceExample]
  let describe: String
  let peerArguments: [String]

  init(_ o: Options) throws {
    var settings: RewardModelTrainingSettings = o.paper ? .paper : .small
    settings.lora.rank = o.rank ?? settings.lora.rank
    settings.batchSize = o.batch ?? settings.batchSize
    settings.microBatchSize = o.micro ?? settings.microBatchSize
    settings.optimizer.warmupSteps = 0  // every step moves the weights
    let weights = try LlavaWeights(directory: o.checkpoint, precision: o.precision)
    let fresh = weights.decoder.score == nil
    update = try RewardModelUpdate(
      weights: weights,
      settings: settings,
      head: fresh ? .zero(bias: false) : .checkpoint,
      transposedWeights: o.transposed
    )
    if fresh, let head = update.training.trainables.head {
      let w = update.parameters.parameters(head)
      for i in 0..<head.count { w[i] = Float((i * 31) % 17) * 0.01 - 0.08 }
    }
    let text = weights.config.text
    let vocabulary = min(Int(text.vocabSize), weights.config.imageTokenIndex)
    var generator = Xoshiro256StarStar(seed: 1)
    func random(_ n: Int) -> [Int32] {
      (0..<n).map { _ in Int32(3 + Int(generator.next() % UInt64(min(vocabulary, 32000) - 3))) }
    }
    let (T, R) = (o.tokens, o.rmResponse)
    pairs = (0..<settings.batchSize).map { i in
      let prompt = [Int32(1)] + random(T - R - 1)
      return PreferenceExample(
        first: prompt + random(R),
        second: prompt + random(R),
        imageEmbeddings: nil,
        secondPreferred: i % 2 == 0
      )
    }
    let lora = settings.lora
    describe =
      "reward-model step: \(o.checkpoint) (\(text.numHiddenLayers) layers, C \(text.hiddenSize)\(fresh ? ", no score head: a fresh one" : "")), batch \(settings.batchSize) pairs in micro-batches of \(settings.microBatchSize), T \(T) per sequence (response \(R)), LoRA r \(lora.rank) α \(lora.alpha) on \(lora.targets.count) targets + head, \(o.precision.rawValue) products\(o.transposed ? ", transposed panels" : "")"
    peerArguments = [
      "--model", o.checkpoint, "--tokens", "\(T)", "--response", "\(R)",
      "--batch", "\(settings.batchSize)", "--micro", "\(settings.microBatchSize)",
      "--rank", "\(lora.rank)", "--alpha", "\(lora.alpha)",
      "--lr", "\(settings.optimizer.learningRate)",
      "--max-grad-norm", "\(settings.optimizer.maxGradNorm ?? 0)",
      "--weight-decay", "\(settings.optimizer.adamW.weightDecay)",
    ]
  }

  /// Units of one step: its pairs.
  var units: Double { Double(pairs.count) }

  mutating func once() throws -> (TrainingStepTimes, Double) {
    let t0 = Clock.now()
    _ = try update.step(pairs)
    return (update.lastStepTimes, Clock.now() - t0)
  }
}
