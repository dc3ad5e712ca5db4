// A reward model's trained score head as a PEFT adapter carries it: with
// `modules_to_save: ["score"]` PEFT saves the whole `score` Linear beside the LoRA pairs, as
// `base_model.model.score.weight` (1, hidden) and, for a head with a bias,
// `base_model.model.score.bias` (1) (checked against PEFT 0.21.2 on a LLaVA reward model and on
// LlamaForSequenceClassification: tools/reference/make_reward_adapter_fixture.py). Only a
// reward model has a `score` module, so a policy adapter carrying one is refused where it is
// loaded (`DecoderAdapter`).

/// A score head's values: reward = weight · h (+ bias), h the final hidden state `(C)`.
public struct RewardScoreHead: Sendable, Equatable {
  /// `(C)`.
  public var weight: [Float]
  public var bias: Float?

  public init(weight: [Float], bias: Float?) {
    self.weight = weight
    self.bias = bias
  }

  /// The tensor names PEFT gives the head in `adapter_model.safetensors`.
  public static let weightKey = "base_model.model.score.weight"
  public static let biasKey = "base_model.model.score.bias"

  /// Reads the head from an adapter file's tensors (`weight` (1, C) or (C), `bias` (1)).
  static func read(_ file: SafeTensorsFile) throws(CheckpointError) -> RewardScoreHead {
    let names = Set(file.tensorNames)
    guard names.contains(weightKey) else {
      throw adapterError(
        "\(file.path): adapter_config.json says modules_to_save [\"score\"], but the file has no '\(weightKey)'"
      )
    }
    let weight = try file.tensor(weightKey)
    guard weight.shape.count == 2 && weight.shape[0] == 1 || weight.shape.count == 1,
      weight.dtype.isConvertibleToFloat
    else {
      throw adapterError(
        "\(file.path): '\(weightKey)' is \(weight.dtype) \(weight.shape); a score head is (1, hidden) in F32, F16 or BF16"
      )
    }
    var head = RewardScoreHead(weight: try weight.floats(), bias: nil)
    if names.contains(biasKey) {
      let bias = try file.tensor(biasKey)
      guard bias.shape == [1], bias.dtype.isConvertibleToFloat else {
        throw adapterError("\(file.path): '\(biasKey)' is \(bias.dtype) \(bias.shape); need (1)")
      }
      head.bias = try bias.floats()[0]
    }
    guard head.weight.allSatisfy(\.isFinite), head.bias?.isFinite ?? true else {
      throw adapterError("\(file.path): the score head is not finite")
    }
    return head
  }
}
