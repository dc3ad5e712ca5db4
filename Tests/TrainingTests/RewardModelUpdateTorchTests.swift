// Reward-model optimizer steps against torch + PEFT (tools/reference/make_rm_step_fixture.py):
// the tiny reward model with a random r-4 LoRA on the 7 targets and its trainable score head,
// 4 pairs with image rows in 2 micro-batches, clipping at 0.3, AdamW with weight decay, constant
// schedule with 2 warmup steps; 3 steps. Loss, accuracy, grad norm and rate per step, then every
// LoRA tensor and the head after the steps, ≤ 1e-4 relative (fp32 here, float64 in torch).
import Checkpoints
import Engine
import Foundation
import Models
import Testing
import Training

enum TrainingFixtures {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.lastPathComponent != "Tests" && url.pathComponents.count > 1 {
      url.deleteLastPathComponent()
    }
    return url.appendingPathComponent("Fixtures").path
  }()

  static func path(_ relative: String) -> String { root + "/" + relative }

  static var present: Bool { FileManager.default.fileExists(atPath: path("training/rm-step.json")) }

  static func json(_ relative: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  static func ints(_ value: Any?) -> [Int32] {
    (value as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.int32Value }
  }

  static func double(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? .nan }

  static func rewardWeights() throws -> LlavaWeights {
    try LlavaWeights(directory: path("tiny-llava-reward"))
  }
}

/// max |a − b| / max |b|.
func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
  precondition(a.count == b.count, "\(a.count) vs \(b.count)")
  var (difference, magnitude) = (0.0, 0.0)
  for i in a.indices {
    difference = max(difference, abs(Double(a[i]) - Double(b[i])))
    magnitude = max(magnitude, abs(Double(b[i])))
  }
  return difference / max(magnitude, 1e-12)
}

@Suite(.enabled(if: TrainingFixtures.present, "Tests/Fixtures/training/rm-step.* is absent"))
struct RewardModelUpdateTorchTests {
  static func tensor(_ name: String) throws -> [Float] {
    try SafeTensorsFile(path: TrainingFixtures.path("training/rm-step.safetensors"))
      .tensor(name).floats()
  }

  static func settings(_ info: [String: Any]) -> RewardModelTrainingSettings {
    let s = info["settings"] as? [String: Any] ?? [:]
    let betas = (s["betas"] as? [NSNumber] ?? []).map(\.floatValue)
    var settings = RewardModelTrainingSettings.small
    settings.batchSize = Int(TrainingFixtures.double(s["batch_size"]))
    settings.microBatchSize = Int(TrainingFixtures.double(s["micro_batch_size"]))
    settings.centeringCoefficient = TrainingFixtures.double(s["centering"])
    settings.optimizer = OptimizerSettings(
      learningRate: Float(TrainingFixtures.double(s["learning_rate"])),
      adamW: AdamW(
        beta1: betas[0],
        beta2: betas[1],
        eps: Float(TrainingFixtures.double(s["eps"])),
        weightDecay: Float(TrainingFixtures.double(s["weight_decay"]))
      ),
      schedule: .constantWithWarmup,
      warmupSteps: Int(TrainingFixtures.double(s["warmup_steps"])),
      totalSteps: 10,
      maxGradNorm: Float(TrainingFixtures.double(s["max_grad_norm"]))
    )
    settings.lora = LoRASettings(
      rank: Int(TrainingFixtures.double(info["rank"])),
      alpha: Float(TrainingFixtures.double(info["alpha"])),
      dropout: 0,
      targets: info["targets"] as? [String] ?? []
    )
    return settings
  }

  @Test func stepsEqualTorch() throws {
    let info = try TrainingFixtures.json("training/rm-step.json")
    let weights = try TrainingFixtures.rewardWeights()
    let settings = Self.settings(info)
    // The starting adapter: the fixture's random LoRA.
    let probe = try RewardModelUpdate(weights: weights, settings: settings)
    let pairs = try probe.training.trainables.adapted.map { l, linear, s in
      DecoderAdapter.Pair(
        layer: l,
        linear: linear,
        a: try Self.tensor("start.\(s.a.name)"),
        b: try Self.tensor("start.\(s.b.name)")
      )
    }
    let start = try DecoderAdapter(
      config: probe.training.trainables.settings.adapterConfig,
      pairs: pairs,
      base: weights,
      dtype: .f32
    )
    var update = try RewardModelUpdate(weights: weights, settings: settings, from: start)
    #expect(update.head().weight == (try Self.tensor("start.score.weight")))
    let batch = try (info["pairs"] as? [[String: Any]] ?? []).enumerated().map { i, pair in
      PreferenceExample(
        first: TrainingFixtures.ints(pair["first"]),
        second: TrainingFixtures.ints(pair["second"]),
        imageEmbeddings: try Self.tensor("pair\(i).image_embeddings"),
        secondPreferred: pair["second_preferred"] as? Bool ?? false
      )
    }
    #expect(batch.count == 4)
    let expected = info["steps"] as? [[String: Any]] ?? []
    #expect(expected.count == 3)
    var worstScalar = 0.0
    for reference in expected {
      let result = try update.step(batch)
      #expect(!result.skipped)
      #expect(result.accuracy == TrainingFixtures.double(reference["accuracy"]))
      for (got, key) in [(result.loss, "loss"), (result.gradNorm, "grad_norm")] {
        let want = TrainingFixtures.double(reference[key])
        worstScalar = max(worstScalar, abs(got - want) / max(abs(want), 1e-12))
      }
      let rate = TrainingFixtures.double(reference["lr"])
      #expect(abs(Double(result.learningRate) - rate) <= 1e-6 * max(rate, 1e-12))
    }
    var (worstTensor, leastMoved) = (0.0, Double.infinity)
    for segment in update.parameters.segments {
      let got = Array(
        UnsafeBufferPointer(start: update.parameters.parameters(segment), count: segment.count)
      )
      let after = try Self.tensor("after.\(segment.name)")
      worstTensor = max(worstTensor, relativeDifference(got, after))
      // Every tensor moved well beyond the tolerance (the comparison is not vacuous).
      let before = try Self.tensor("start.\(segment.name)")
      leastMoved = min(leastMoved, relativeDifference(before, after))
    }
    print(
      "rm step vs torch: loss/grad-norm rel \(worstScalar), parameters rel \(worstTensor), least moved \(leastMoved)"
    )
    #expect(worstScalar <= 1e-4)
    #expect(worstTensor <= 1e-4)
    #expect(leastMoved > 1e-3)
  }
}
