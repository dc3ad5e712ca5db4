// PEFT LoRA adapters: key parsing in every spelling, mapping to the base checkpoint's names,
// the merge W + scale·B·A checked by hand, and the refusals.
import Checkpoints
import Testing

@Suite struct LoRAAdapterTests {
  private func adapter(
    _ tensors: [TestTensor],
    config: LoRAAdapterConfig = LoRAAdapterConfig(rank: 2, alpha: 4)
  )
    throws -> LoRAAdapter
  {
    let file = try SafeTensorsFile(
      contents: SafeTensorsWriter.file(tensors),
      name: "adapter_model.safetensors"
    )
    return try LoRAAdapter(config: config, file: file)
  }

  private func pair(_ module: String, out: Int, in: Int, rank: Int = 2, suffix: String = "")
    -> [TestTensor]
  {
    [
      TestTensor.f32("base_model.model.\(module).lora_A\(suffix).weight", [rank, `in`], seed: 3),
      TestTensor.f32("base_model.model.\(module).lora_B\(suffix).weight", [out, rank], seed: 5),
    ]
  }

  @Test func mergesByHand() throws {
    // W (2×3), A (1×3), B (2×1), r 1, alpha 2 → scale 2.
    let tensors = [
      TestTensor.f32(
        "base_model.model.model.language_model.layers.0.mlp.up_proj.lora_A.weight",
        [1, 3],
        [1, 2, 3]
      ),
      TestTensor.f32(
        "base_model.model.model.language_model.layers.0.mlp.up_proj.lora_B.weight",
        [2, 1],
        [0.5, -1]
      ),
    ]
    let lora = try adapter(tensors, config: LoRAAdapterConfig(rank: 1, alpha: 2))
    let delta = try #require(lora.delta(for: "text.layers.0.mlp.up_proj.weight"))
    #expect(delta.scale == 2 && delta.rank == 1 && delta.inFeatures == 3 && delta.outFeatures == 2)
    let base = try SafeTensorsFile(
      contents: SafeTensorsWriter.file([TestTensor.f32("w", [2, 3], [1, 1, 1, 0, 0, 0])]),
      name: "w"
    )
    let merged = try LoRAMerge.merged(base.tensor("w"), delta)
    // Row 0: 1 + 2·0.5·[1,2,3]; row 1: 0 + 2·(−1)·[1,2,3].
    #expect(merged == [2, 3, 4, -2, -4, -6])
  }

  @Test func scaleIsAlphaOverRankOrOverItsRootWithRSLoRA() {
    #expect(LoRAAdapterConfig(rank: 16, alpha: 32).scale == 2)
    #expect(LoRAAdapterConfig(rank: 16, alpha: 32, useRSLoRA: true).scale == 8)
  }

  @Test func everySpellingMapsToCanonicalNames() throws {
    // Hub-era PEFT, a named adapter (".default" kept), transformers 5.24 module names, 4.52 names.
    let tensors =
      pair("language_model.model.layers.0.self_attn.q_proj", out: 8, in: 8)
      + pair("model.language_model.layers.1.self_attn.v_proj", out: 4, in: 8, suffix: ".default")
      + pair("model.vision_tower.encoder.layers.0.self_attn.q_proj", out: 4, in: 4)
      + pair("model.vision_tower.vision_model.encoder.layers.0.self_attn.v_proj", out: 4, in: 4)
      + pair("model.multi_modal_projector.linear_1", out: 8, in: 4)
    let lora = try adapter(tensors)
    #expect(
      lora.deltas.map(\.target) == [
        "projector.linear_1.weight", "text.layers.0.self_attn.q_proj.weight",
        "text.layers.1.self_attn.v_proj.weight",
        "vision.encoder.layers.0.self_attn.q_proj.weight",
        "vision.encoder.layers.0.self_attn.v_proj.weight",
      ]
    )
    // Against a hub-layout base, each target resolves to the base's own spelling.
    let config = try TinyLlava.config()
    let checkpoint = try TinyLlava.checkpoint(
      TinyLlava.tensors(config, layout: .hub),
      config: config
    )
    try lora.validate(against: checkpoint)
    let v = try #require(lora.delta(for: "text.layers.1.self_attn.v_proj.weight"))
    #expect(checkpoint.name(v.target) == "language_model.model.layers.1.self_attn.v_proj.weight")
    let merged = try LoRAMerge.merged(checkpoint.tensor(v.target), v)
    let (w, a, b) = try (checkpoint.tensor(v.target).floats(), v.a.floats(), v.b.floats())
    for row in 0..<4 {
      for col in 0..<8 {
        let product = (0..<2).reduce(Float(0)) { $0 + b[row * 2 + $1] * a[$1 * 8 + col] }
        #expect(abs(merged[row * 8 + col] - (w[row * 8 + col] + 2 * product)) < 1e-6)
      }
    }
  }

  @Test func adapterThatDoesNotFitTheBase() throws {
    let config = try TinyLlava.config()
    let checkpoint = try TinyLlava.checkpoint(
      TinyLlava.tensors(config, layout: .transformers5Modules),
      config: config
    )
    let lora = try adapter(
      pair("model.language_model.layers.0.self_attn.q_proj", out: 8, in: 7)
        + pair("model.language_model.layers.5.self_attn.q_proj", out: 8, in: 8)
    )
    let error = checkpointError { try lora.validate(against: checkpoint) }
    #expect(error?.code == .invalidAdapter)
    #expect(error?.message.contains("base weight is [8, 8], the adapter needs [8, 7]") == true)
    #expect(
      error?.message.contains("base has no 'model.language_model.layers.5.self_attn.q_proj.weight'")
        == true
    )
  }

  @Test(arguments: [
    (["base_model.model.x.q_proj.lora_A.weight"], "has lora_A but no lora_B"),
    (
      [
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
      ], "not part of a LLaVA model"
    ),
    (
      ["base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_magnitude_vector"],
      "DoRA"
    ),
    (["base_model.model.model.language_model.embed_tokens.lora_embedding_A"], "embedding LoRA"),
    (["base_model.model.lm_head.modules_to_save.default.weight"], "modules_to_save"),
    (["model.language_model.layers.0.self_attn.q_proj.lora_A.weight"], "unexpected tensor"),
    (
      ["base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.bias"],
      "unexpected tensor"
    ),
  ])
  func refusesTensors(names: [String], mention: String) {
    let tensors = names.map {
      TestTensor.f32($0, $0.contains("lora_B") ? [8, 2] : [2, 8], seed: 0)
    }
    let error = checkpointError { _ = try adapter(tensors) }
    #expect(error?.code == .invalidAdapter)
    #expect(error?.message.contains(mention) == true, "\(error?.message ?? "accepted")")
  }

  @Test func refusesWrongRankAndUntargetedModules() {
    let wrongRank = checkpointError {
      _ = try adapter(
        pair("model.language_model.layers.0.self_attn.q_proj", out: 8, in: 8, rank: 3)
      )
    }
    #expect(wrongRank?.message.contains("do not have rank r = 2") == true)
    let config = LoRAAdapterConfig(rank: 2, alpha: 4, targetModules: .names(["k_proj"]))
    let untargeted = checkpointError {
      _ = try adapter(
        pair("model.language_model.layers.0.self_attn.q_proj", out: 8, in: 8),
        config: config
      )
    }
    #expect(untargeted?.message.contains("is not in target_modules") == true)
    let regex = LoRATargetModules.pattern(#".*language_model.*\.(q_proj|v_proj)"#)
    #expect(regex.matches("model.language_model.layers.0.self_attn.q_proj") == true)
    #expect(regex.matches("model.vision_tower.encoder.layers.0.self_attn.q_proj") == false)
    #expect(LoRATargetModules.names(["q_proj"]).matches("a.q_proj") == true)
    #expect(LoRATargetModules.names(["q_proj"]).matches("a.xq_proj") == false)
  }

  @Test(arguments: [
    (#"{"peft_type": "IA3", "r": 2}"#, "peft_type 'IA3'"),
    (#"{"r": 2}"#, "peft_type ''"),
    (#"{"peft_type": "LORA", "r": 0}"#, "r must be positive"),
    (#"{"peft_type": "LORA", "bias": "all"}"#, "bias 'all'"),
    (#"{"peft_type": "LORA", "modules_to_save": ["lm_head"]}"#, "modules_to_save"),
    (#"{"peft_type": "LORA", "use_dora": true}"#, "DoRA"),
    (#"{"peft_type": "LORA", "lora_bias": true}"#, "lora_bias"),
    (#"{"peft_type": "LORA", "rank_pattern": {"q_proj": 4}}"#, "rank_pattern"),
    (#"{"peft_type": "LORA", "alpha_pattern": {"q_proj": 4}}"#, "alpha_pattern"),
    (#"{"peft_type": "LORA", "layer_replication": [[0, 1]]}"#, "layer_replication"),
    (#"{"peft_type": "LORA", "target_parameters": ["experts.gate_up_proj"]}"#, "target_parameters"),
  ])
  func refusesConfigs(json: String, mention: String) throws {
    let directory = try TemporaryDirectory()
    try directory.write(LoRAAdapter.configFileName, json)
    let error = checkpointError {
      _ = try LoRAAdapterConfig.load(path: directory.file(LoRAAdapter.configFileName))
    }
    #expect(error?.code == .invalidAdapter, "\(error?.description ?? "accepted")")
    #expect(error?.message.contains(mention) == true, "\(error?.message ?? "")")
  }

  @Test func readsARealisticConfig() throws {
    let json = #"""
      {"alpha_pattern": {}, "base_model_name_or_path": "llava-hf/llava-1.5-7b-hf", "bias": "none",
       "fan_in_fan_out": false, "inference_mode": true, "layer_replication": null, "lora_alpha": 16,
       "lora_dropout": 0.05, "modules_to_save": null, "peft_type": "LORA", "r": 8, "rank_pattern": {},
       "target_modules": ".*language_model.*\\.(q_proj|v_proj)", "task_type": "CAUSAL_LM",
       "use_dora": false, "use_rslora": false}
      """#
    let directory = try TemporaryDirectory()
    let config = try LoRAAdapterConfig.load(path: directory.write("adapter_config.json", json))
    #expect(config.rank == 8 && config.alpha == 16 && config.scale == 2)
    #expect(config.targetModules == .pattern(#".*language_model.*\.(q_proj|v_proj)"#))
    #expect(
      config.baseModelNameOrPath == "llava-hf/llava-1.5-7b-hf" && config.taskType == "CAUSAL_LM"
    )
  }
}
