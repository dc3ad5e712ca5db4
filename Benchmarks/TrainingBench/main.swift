// Reward-model update time per 1k pairs (issue 13 benchmarks): `RewardModelUpdate.step` over
// random text-only pairs on a reward checkpoint — both sequences of a pair share a prompt of
// T − R tokens and end in R-token responses (T tokens each, the reward input's length); the
// settings' LoRA (rank, targets), batch and micro-batch; clipping, AdamW, schedule as the preset.
// The same shapes in PyTorch: tools/reference/bench_torch_rm_step.py.
//
//   swift run -c release TrainingBench [DIR] [--tokens T] [--response R] [--pairs N]
//     [--rank r] [--batch B] [--micro M] [--paper]
import Checkpoints
import Foundation
import Models
import Training

let arguments = Array(CommandLine.arguments.dropFirst())
let numbers: [String: Int] = Dictionary(
  stride(from: 0, to: arguments.count - 1, by: 1).compactMap { i in
    arguments[i].hasPrefix("--") ? Int(arguments[i + 1]).map { (arguments[i], $0) } : nil
  },
  uniquingKeysWith: { $1 }
)
func option(_ name: String, _ fallback: Int) -> Int { numbers[name] ?? fallback }
let tokens = option("--tokens", 256)
let responseLength = option("--response", 32)
let pairCount = option("--pairs", 32)
let paper = arguments.contains("--paper")
var settings: RewardModelTrainingSettings = paper ? .paper : .small
settings.lora.rank = option("--rank", settings.lora.rank)
settings.batchSize = option("--batch", settings.batchSize)
settings.microBatchSize = option("--micro", settings.microBatchSize)
let directory =
  arguments.enumerated().first { i, a in
    !a.hasPrefix("--")
      && (i == 0 || !arguments[i - 1].hasPrefix("--") || arguments[i - 1] == "--paper")
  }?.element ?? "Tests/Fixtures/tiny-llava-reward"

do {
  let weights = try LlavaWeights(directory: directory)
  let vocabulary = min(Int(weights.config.text.vocabSize), weights.config.imageTokenIndex)
  var generator = Xoshiro256StarStar(seed: 1)
  func random(_ n: Int) -> [Int32] {
    (0..<n).map { _ in Int32(3 + Int(generator.next() % UInt64(min(vocabulary, 32000) - 3))) }
  }
  let pairs = (0..<pairCount).map { i in
    let prompt = [Int32(1)] + random(tokens - responseLength - 1)
    return PreferenceExample(
      first: prompt + random(responseLength),
      second: prompt + random(responseLength),
      imageEmbeddings: nil,
      secondPreferred: i % 2 == 0
    )
  }
  var update = try RewardModelUpdate(weights: weights, settings: settings)
  let clock = ContinuousClock()
  var seconds: [Double] = []
  for start in stride(from: 0, to: pairs.count, by: settings.batchSize) {
    let batch = Array(pairs[start..<min(start + settings.batchSize, pairs.count)])
    let started = clock.now
    let result = try update.step(batch)
    let d = (clock.now - started).components
    seconds.append((Double(d.seconds) + Double(d.attoseconds) * 1e-18) / Double(batch.count))
    print("step \(seconds.count): loss \(result.loss), grad norm \(result.gradNorm)")
  }
  let perPair = seconds.dropFirst().isEmpty ? seconds : Array(seconds.dropFirst())
  let mean = perPair.reduce(0, +) / Double(perPair.count)
  print(
    "reward-model update: \(directory), T \(tokens) per sequence, LoRA r \(settings.lora.rank) on \(settings.lora.targets.count) targets, batch \(settings.batchSize) / micro \(settings.microBatchSize): \(mean * 1000) s per 1k pairs (\(mean * 1000 / Double(2 * tokens)) s per 1k tokens)"
  )
} catch {
  print("TrainingBench: \(error)")
  exit(1)
}
