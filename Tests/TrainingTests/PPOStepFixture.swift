// The one-PPO-step fixture (tools/reference/make_ppo_step_fixture.py, Tests/Fixtures/training/
// ppo-step.*): its settings, rollouts and models as PPOStep takes them.
import Checkpoints
import Engine
import Foundation
import Models
import Serving
import ServingTypes
import Training

enum PPOStepFixture {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.lastPathComponent != "Tests" && url.pathComponents.count > 1 {
      url.deleteLastPathComponent()
    }
    return url.appendingPathComponent("Fixtures").path
  }()

  static func path(_ relative: String) -> String { root + "/" + relative }

  static var present: Bool {
    FileManager.default.fileExists(atPath: path("training/ppo-step.json"))
  }

  nonisolated(unsafe) static let info: [String: Any] = {
    let url = URL(fileURLWithPath: path("training/ppo-step.json"))
    guard let data = try? Data(contentsOf: url),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return [:] }
    return object
  }()

  static func tensor(_ name: String) throws -> [Float] {
    try SafeTensorsFile(path: path("training/ppo-step.safetensors")).tensor(name).floats()
  }

  static func ints(_ value: Any?) -> [Int32] {
    (value as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.int32Value }
  }

  static func number(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? .nan }

  static var fixtureSettings: [String: Any] { info["settings"] as? [String: Any] ?? [:] }
  static var rows: [[String: Any]] { info["rows"] as? [[String: Any]] ?? [] }
  static var minibatches: [[Int]] {
    (info["minibatches"] as? [[Any]] ?? []).map { $0.compactMap { ($0 as? NSNumber)?.intValue } }
  }
  /// The fixture's PPO step index (the schedule's position).
  static var stepIndex: Int { Int(number(fixtureSettings["ppo_step"])) }

  /// PPOSettings.small scaled to the fixture: 4 rollouts, 2 epochs × 2 minibatches of 2,
  /// micro-batches of 1, an 8-token window.
  static var step: PPOStep {
    var settings = PPOSettings.small
    settings.rolloutBatchSize = 4
    settings.stepBatchSize = 2
    settings.microBatchSize = 1
    settings.epochs = 2
    let window = Int(number(fixtureSettings["window"]))
    settings.responseLength = window
    settings.rewardWeights.lengthNormalizer = Float(window)
    let optimizer = OptimizerSettings(
      learningRate: Float(number(fixtureSettings["learning_rate"])),
      adamW: AdamW(weightDecay: 0),
      schedule: .cosineWithWarmup,
      warmupSteps: Int(number(fixtureSettings["warmup"])),
      totalSteps: Int(number(fixtureSettings["total"])),
      maxGradNorm: Float(number(fixtureSettings["max_grad_norm"]))
    )
    return PPOStep(settings: settings, optimizer: optimizer, eos: 2, seed: 7)
  }

  static func rollouts() throws -> [PPORollout] {
    try rows.enumerated().map { b, row in
      let image = row["has_image"] as? Bool == true
      var facts: RewardFacts? = nil
      if number(row["correctness"]) != 0 {
        facts = RewardFacts()
        facts?.yesNoAnswer = false
      }
      return PPORollout(
        query: ints(row["query"]),
        imageEmbeddings: image ? try tensor("row\(b).image") : nil,
        valueImageEmbeddings: image ? try tensor("row\(b).value_image") : nil,
        response: ints(row["response"]),
        rewardModelScore: number(row["rm_score"]),
        facts: facts,
        lengthBonus: number(row["length_bonus"])
      )
    }
  }

  /// "No." for the kept response of the row whose correctness is +0.5 (a "No" answer to a
  /// question whose answer is no), "" for the others.
  static func decode(_ kept: [Int32]) -> String {
    rows.contains { ints($0["kept"]) == kept && number($0["correctness"]) > 0 } ? "No." : ""
  }

  /// Copies `<prefix>.<segment name>` into every segment of `set`.
  static func load(_ set: borrowing TrainableParameters, prefix: String) throws {
    for segment in set.segments {
      let values = try tensor("\(prefix).\(segment.name)")
      precondition(values.count == segment.count, "\(segment.name): \(values.count) values")
      for i in 0..<segment.count { set.parameters(segment)[i] = values[i] }
    }
  }

  /// The policy and value at the fixture's initial values; the reference is lora/adapter-a.
  /// `bf16Policy`: the policy is the same model stored in bf16 (layouts/v5-bfloat16) with bf16
  /// products (`precision: bf16`) and transposed panels for the backward, as a bf16 daemon trains.
  static func models(bf16Policy: Bool = false) throws -> PPOModels {
    let lora = DecoderLoRASettings(rank: 4, alpha: 8)
    let policyWeights =
      bf16Policy
      ? try LlavaWeights(directory: path("layouts/v5-bfloat16"), precision: .bf16)
      : try LlavaWeights(directory: path("tiny-llava-policy"))
    let policy = try DecoderTraining(
      weights: policyWeights,
      lora: lora,
      transposedWeights: bf16Policy
    )
    let policyParameters = try policy.makeParameters()
    try load(policyParameters, prefix: "policy.initial")
    let reference = try policy.makeParameters(
      from: try DecoderAdapter(directory: path("lora/adapter-a"), base: policyWeights)
    )
    let value = try DecoderTraining(
      weights: try LlavaWeights(directory: path("tiny-llava-reward")),
      lora: lora,
      head: .zero(bias: true)
    )
    let valueParameters = try value.makeParameters()
    try load(valueParameters, prefix: "value.initial")
    return PPOModels(
      policy: policy,
      policyParameters: policyParameters,
      reference: policy,
      referenceParameters: reference,
      value: value,
      valueParameters: valueParameters
    )
  }

  static func values(_ set: borrowing TrainableParameters, _ segment: TrainableParameters.Segment)
    -> [Float]
  {
    Array(UnsafeBufferPointer(start: set.parameters(segment), count: segment.count))
  }
}
