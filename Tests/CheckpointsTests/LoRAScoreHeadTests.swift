// A reward model's trained score head in a PEFT adapter (`modules_to_save: ["score"]`): read
// from PEFT's tensor names, written back by the writer, refused without the config's say-so
// and for any other fully trained module.
import Checkpoints
import Testing

@Suite struct LoRAScoreHeadTests {
  static let lora = [
    TestTensor.f32(
      "base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight",
      [2, 8],
      seed: 3
    ),
    TestTensor.f32(
      "base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_B.weight",
      [8, 2],
      seed: 5
    ),
  ]
  static var rewardConfig: LoRAAdapterConfig {
    var config = LoRAAdapterConfig(rank: 2, alpha: 4)
    config.modulesToSave = ["score"]
    return config
  }

  private func adapter(_ tensors: [TestTensor], config: LoRAAdapterConfig) throws -> LoRAAdapter {
    let file = try SafeTensorsFile(
      contents: SafeTensorsWriter.file(tensors),
      name: "adapter_model.safetensors"
    )
    return try LoRAAdapter(config: config, file: file)
  }

  @Test func readsTheHeadPEFTSaves() throws {
    let weight = TestTensor.f32(RewardScoreHead.weightKey, [1, 8], seed: 7)
    let bias = TestTensor.f32(RewardScoreHead.biasKey, [1], seed: 9)
    let read = try adapter(Self.lora + [weight, bias], config: Self.rewardConfig)
    let head = try #require(read.head)
    #expect(head.weight.count == 8 && head.bias != nil)
    #expect(read.deltas.count == 1)
    let noBias = try adapter(Self.lora + [weight], config: Self.rewardConfig)
    #expect(noBias.head?.bias == nil && noBias.head?.weight == head.weight)
  }

  @Test func refusesAHeadWithoutTheConfigAndTheConfigWithoutAHead() {
    let weight = TestTensor.f32(RewardScoreHead.weightKey, [1, 8], seed: 7)
    let unannounced = checkpointError {
      _ = try adapter(Self.lora + [weight], config: LoRAAdapterConfig(rank: 2, alpha: 4))
    }
    #expect(unannounced?.message.contains("no modules_to_save") == true)
    let missing = checkpointError { _ = try adapter(Self.lora, config: Self.rewardConfig) }
    #expect(missing?.message.contains("has no '\(RewardScoreHead.weightKey)'") == true)
  }

  @Test(arguments: [
    (#"{"peft_type": "LORA", "modules_to_save": ["score"]}"#, ["score"]),
    (
      #"{"peft_type": "LORA", "modules_to_save": ["classifier", "score"]}"#,
      ["classifier", "score"]
    ),
    (#"{"peft_type": "LORA", "modules_to_save": null}"#, []),
  ])
  func acceptsTheScoreHead(json: String, modules: [String]) throws {
    let directory = try TemporaryDirectory()
    let config = try LoRAAdapterConfig.load(path: directory.write("adapter_config.json", json))
    #expect(config.modulesToSave == modules)
    #expect(config.savesScoreHead == !modules.isEmpty)
  }

  @Test(arguments: [#"["lm_head"]"#, #"["classifier"]"#, #"["score", "embed_tokens"]"#])
  func refusesOtherModules(modules: String) throws {
    let directory = try TemporaryDirectory()
    try directory.write(
      LoRAAdapter.configFileName,
      #"{"peft_type": "LORA", "modules_to_save": "# + modules + "}"
    )
    let error = checkpointError {
      _ = try LoRAAdapterConfig.load(path: directory.file(LoRAAdapter.configFileName))
    }
    #expect(error?.message.contains("reward model's score head") == true)
  }

  @Test func theWriterWritesTheHead() throws {
    let pair = LoRAWeightPair(
      module: "model.language_model.layers.0.self_attn.q_proj",
      a: (0..<16).map { Float($0) / 16 },
      b: (0..<16).map { Float($0) / 32 },
      rank: 2,
      inFeatures: 8,
      outFeatures: 8
    )
    let head = RewardScoreHead(weight: (0..<8).map { Float($0) - 3.5 }, bias: -0.5)
    let directory = try TemporaryDirectory()
    let target = directory.file("adapter")
    try LoRAAdapterWriter.write(
      config: LoRAAdapterConfig(rank: 2, alpha: 4),
      pairs: [pair],
      head: head,
      to: target
    )
    let read = try LoRAAdapter(directory: target)
    #expect(read.config.modulesToSave == ["score"])
    #expect(read.head == head)
  }
}
