// Tensor naming: the hub (4.x) and transformers 5 spellings resolve to the same canonical
// tensors; missing, misshapen and unexpected tensors are reported together, by name.
import Checkpoints
import Testing

@Suite struct LlavaLayoutTests {
  static let saved524 = LlavaLayout(
    text: "language_model.model.",
    lmHead: "language_model.lm_head.",
    vision: "vision_tower.",
    projector: "multi_modal_projector."
  )
  static let transformers452 = LlavaLayout(
    text: "model.language_model.",
    lmHead: "lm_head.",
    vision: "model.vision_tower.vision_model.",
    projector: "model.multi_modal_projector."
  )
  static let layouts = [LlavaLayout.hub, .transformers5Modules, saved524, transformers452]

  @Test func spellsTheBriefsExamples() {
    let q = LlavaWeightNames.textLayer(3).qProj
    #expect(
      LlavaLayout.hub.name(forCanonical: q)
        == "language_model.model.layers.3.self_attn.q_proj.weight"
    )
    #expect(
      LlavaLayout.transformers5Modules.name(forCanonical: q)
        == "model.language_model.layers.3.self_attn.q_proj.weight"
    )
    #expect(
      LlavaLayout.hub.name(forCanonical: LlavaWeightNames.lmHead) == "language_model.lm_head.weight"
    )
    #expect(
      LlavaLayout.transformers5Modules.name(forCanonical: LlavaWeightNames.lmHead)
        == "lm_head.weight"
    )
    #expect(
      LlavaLayout.hub.name(forCanonical: LlavaWeightNames.embedTokens)
        == "language_model.model.embed_tokens.weight"
    )
    #expect(
      LlavaLayout.hub.name(forCanonical: LlavaWeightNames.finalNorm)
        == "language_model.model.norm.weight"
    )
    #expect(
      LlavaLayout.hub.name(forCanonical: LlavaWeightNames.preLayerNormWeight)
        == "vision_tower.vision_model.pre_layrnorm.weight"
    )
    #expect(
      LlavaLayout.hub.name(forCanonical: LlavaWeightNames.visionLayer(1).fc1)
        == "vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight"
    )
    #expect(
      LlavaLayout.hub.name(forCanonical: LlavaWeightNames.classEmbedding)
        == "vision_tower.vision_model.embeddings.class_embedding"
    )
    #expect(
      LlavaLayout.transformers5Modules.name(forCanonical: LlavaWeightNames.projector1Weight)
        == "model.multi_modal_projector.linear_1.weight"
    )
    #expect(LlavaLayout.hub.name(forCanonical: LlavaWeightNames.score) == "score.weight")
  }

  @Test(arguments: layouts)
  func detectsAndRoundTrips(layout: LlavaLayout) throws {
    let config = try TinyLlava.config()
    let names = TinyLlava.tensors(config, layout: layout).map(\.name)
    #expect(LlavaLayout.detect(names) == layout)
    for name in names {
      let canonical = layout.canonicalName(for: name)
      #expect(
        ["text.", "vision.", "projector.", "lm_head."].contains { canonical.hasPrefix($0) },
        "\(name)"
      )
      #expect(layout.name(forCanonical: canonical) == name)
    }
  }

  @Test func everyLayoutResolvesToTheSameTensors() throws {
    let config = try TinyLlava.config()
    let checkpoints = try Self.layouts.map {
      try TinyLlava.checkpoint(TinyLlava.tensors(config, layout: $0), config: config)
    }
    #expect(checkpoints.map(\.layout) == Self.layouts)
    let canonical = LlavaWeightNames.expected(for: config, head: .languageModel).filter(\.required)
      .map(\.name)
    #expect(canonical.count == 1 + 2 * 9 + 1 + 1 + 5 + 16 + 4)  // one of two vision layers used
    for name in canonical {
      let values = try checkpoints.map { try $0.tensor(name).floats() }
      #expect(values.allSatisfy { $0 == values[0] }, "\(name)")
    }
    // One KV head of 4 dims.
    #expect(try checkpoints[0].tensor(LlavaWeightNames.textLayer(1).kProj).shape == [4, 8])
    #expect(
      checkpoints[0].report.unused.sorted().first
        == "vision_tower.vision_model.encoder.layers.1.layer_norm1.bias"
    )
  }

  @Test func missingTensorsAreReportedAllAtOnce() throws {
    let config = try TinyLlava.config()
    let dropped: Set = [
      "language_model.model.layers.1.mlp.up_proj.weight",
      "vision_tower.vision_model.pre_layrnorm.bias",
    ]
    let tensors = TinyLlava.tensors(config, layout: .hub).filter { !dropped.contains($0.name) }
    let error = checkpointError { _ = try TinyLlava.checkpoint(tensors, config: config) }
    #expect(error?.code == .missingTensors)
    #expect(
      error?.message.contains(
        "2 missing tensors: language_model.model.layers.1.mlp.up_proj.weight, vision_tower.vision_model.pre_layrnorm.bias"
      ) == true,
      "\(error?.message ?? "")"
    )
  }

  @Test func shapeMismatchNamesExpectedAndActual() throws {
    let config = try TinyLlava.config()
    var tensors = TinyLlava.tensors(config, layout: .transformers5Modules)
    let index = try #require(
      tensors.firstIndex { $0.name == "model.language_model.layers.0.self_attn.v_proj.weight" }
    )
    tensors[index] = TestTensor.f32(tensors[index].name, [8, 8], seed: 1)
    let error = checkpointError { _ = try TinyLlava.checkpoint(tensors, config: config) }
    #expect(error?.code == .shapeMismatch)
    #expect(
      error?.message.contains(
        "model.language_model.layers.0.self_attn.v_proj.weight: expected [4, 8], got [8, 8]"
      ) == true
    )
  }

  @Test func unexpectedAndMixedLayoutTensorsAreRefused() throws {
    let config = try TinyLlava.config()
    let extra = [
      TestTensor.f32("image_newline", [8], seed: 0),
      TestTensor.f32("model.language_model.layers.0.self_attn.q_proj.weight", [8, 8], seed: 0),
      TestTensor.f32("language_model.model.layers.0.self_attn.q_proj.bias", [8], seed: 0),
    ]
    let error = checkpointError {
      _ = try TinyLlava.checkpoint(TinyLlava.tensors(config, layout: .hub) + extra, config: config)
    }
    #expect(error?.code == .unexpectedTensors)
    for tensor in extra { #expect(error?.message.contains(tensor.name) == true, "\(tensor.name)") }
  }

  @Test func integerWeightsAreRefusedByName() throws {
    let config = try TinyLlava.config()
    var tensors = TinyLlava.tensors(config, layout: .hub)
    let index = try #require(tensors.firstIndex { $0.name == "language_model.model.norm.weight" })
    tensors[index] = TestTensor(tensors[index].name, "I32", [8], [UInt8](repeating: 0, count: 32))
    let error = checkpointError { _ = try TinyLlava.checkpoint(tensors, config: config) }
    #expect(error?.code == .unsupportedDType)
    #expect(error?.message.contains("language_model.model.norm.weight: I32") == true)
  }

  @Test func buffersOfOldCheckpointsAreAllowed() throws {
    let config = try TinyLlava.config()
    let buffers = [
      TestTensor(
        "vision_tower.vision_model.embeddings.position_ids",
        "I64",
        [1, 5],
        [UInt8](repeating: 0, count: 40)
      ),
      TestTensor.f32("language_model.model.layers.0.self_attn.rotary_emb.inv_freq", [2], seed: 0),
    ]
    let checkpoint = try TinyLlava.checkpoint(
      TinyLlava.tensors(config, layout: .hub) + buffers,
      config: config
    )
    #expect(checkpoint.report.unused.contains("vision_tower.vision_model.embeddings.position_ids"))
  }

  @Test func tiedEmbeddingsAnswerForTheLMHead() throws {
    let config = try TinyLlava.config(tied: true)
    let tensors = TinyLlava.tensors(config, layout: .hub)
    #expect(!tensors.contains { $0.name.contains("lm_head") })
    let checkpoint = try TinyLlava.checkpoint(tensors, config: config)
    #expect(
      try checkpoint.tensor(LlavaWeightNames.lmHead).floats()
        == checkpoint.tensor(LlavaWeightNames.embedTokens).floats()
    )
  }

  @Test func rewardHeadNeedsScore() throws {
    let config = try TinyLlava.config(reward: true)
    let tensors = TinyLlava.tensors(config, layout: .hub, head: .reward)
    let checkpoint = try TinyLlava.checkpoint(tensors, config: config, head: .reward)
    #expect(try checkpoint.tensor(LlavaWeightNames.score).shape == [1, 8])
    let error = checkpointError {
      _ = try TinyLlava.checkpoint(
        tensors.filter { $0.name != "score.weight" },
        config: config,
        head: .reward
      )
    }
    #expect(error?.code == .missingTensors && error?.message.contains("score.weight") == true)
  }

  @Test func rewardHeadAcceptsAnOptionalScoreBias() throws {
    let config = try TinyLlava.config(reward: true)
    var tensors = TinyLlava.tensors(config, layout: .hub, head: .reward)
    tensors.append(TestTensor.f32("score.bias", [1], seed: 7))
    let checkpoint = try TinyLlava.checkpoint(tensors, config: config, head: .reward)
    #expect(checkpoint.contains(LlavaWeightNames.scoreBias))
    #expect(
      checkpoint.report.unexpected.isEmpty && !checkpoint.report.unused.contains("score.bias")
    )
    var wrong = TinyLlava.tensors(config, layout: .hub, head: .reward)
    wrong.append(TestTensor.f32("score.bias", [2], seed: 7))
    let error = checkpointError {
      _ = try TinyLlava.checkpoint(wrong, config: config, head: .reward)
    }
    #expect(error?.message.contains("score.bias") == true)
  }
}
