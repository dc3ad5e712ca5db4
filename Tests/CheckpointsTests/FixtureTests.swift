// The loaders on checkpoints that transformers (5.24, and 4.x-style files) and PEFT really wrote:
// every layout variant resolves to the same weights, sparse configs equal full ones, F16/BF16
// values are the fp32 weights rounded, and PEFT's own merge matches ours.
import Checkpoints
import Foundation
import Testing

@Suite(.enabled(if: Fixtures.modelsPresent, Comment(rawValue: Fixtures.skipMessage)))
struct FixtureTests {
  static let policy = "tiny-llava-policy"
  static let fp32Variants = [
    "layouts/v4-names", "layouts/v4-sparse-config", "layouts/v5-module-names", "layouts/v5-sharded",
  ]

  private func load(_ folder: String) throws -> LlavaCheckpoint {
    try LlavaCheckpoint(directory: Fixtures.path(folder))
  }

  private func canonicalNames(_ checkpoint: LlavaCheckpoint) -> [String] {
    checkpoint.weights.tensorNames.map { checkpoint.layout.canonicalName(for: $0) }.sorted()
  }

  @Test func everyFixtureFilePassesTheStrictValidator() throws {
    let files = Fixtures.allSafeTensorsFiles()
    #expect(files.count >= 10)
    for file in files { _ = try SafeTensorsFile(path: file) }
  }

  @Test func policyAsTransformers524WritesIt() throws {
    let policy = try load(Self.policy)
    #expect(
      policy.layout.text == "language_model.model." && policy.layout.vision == "vision_tower."
    )
    #expect(policy.head == .languageModel && policy.report.unexpected.isEmpty)
    #expect(policy.config.text.numKeyValueHeads == 2 && policy.config.text.vocabSize == 641)
    #expect(
      policy.config.imageTokenIndex == 640
        && policy.config.imageSeqLength == policy.config.imageFeatureCount
    )
    #expect(try policy.tensor(LlavaWeightNames.lmHead).shape == [641, 64])
    #expect(try policy.tensor(LlavaWeightNames.textLayer(1).kProj).shape == [32, 64])
    #expect(try policy.tensor(LlavaWeightNames.patchEmbedding).shape == [32, 3, 8, 8])
    // Layer 1 of 2 and post_layernorm are unused with vision_feature_layer −2.
    #expect(policy.report.unused.contains("vision_tower.post_layernorm.weight"))
    #expect(policy.report.unused.contains("vision_tower.encoder.layers.1.mlp.fc2.bias"))
  }

  @Test(arguments: fp32Variants)
  func layoutVariantHoldsThePolicysWeights(folder: String) throws {
    let policy = try load(Self.policy)
    let variant = try load(folder)
    #expect(canonicalNames(variant) == canonicalNames(policy))
    for name in canonicalNames(policy) {
      #expect(
        try variant.tensor(name).floats() == policy.tensor(name).floats(),
        "\(folder): \(name)"
      )
    }
  }

  @Test func layoutsAreDetected() throws {
    #expect(try load("layouts/v4-names").layout == .hub)
    #expect(try load("layouts/v5-module-names").layout == .transformers5Modules)
    let sharded = try load("layouts/v5-sharded")
    #expect(sharded.weights.files.count == 2)
  }

  @Test(arguments: ["layouts/v5-float16", "layouts/v5-bfloat16", "layouts/hub-mha-float16"])
  func halfPrecisionVariantsAreTheRoundedWeights(folder: String) throws {
    let variant = try load(folder)
    let dtype: DType = folder.hasSuffix("bfloat16") ? .bf16 : .f16
    #expect(variant.weights.tensorNames.allSatisfy { variant.weights.info($0)?.dtype == dtype })
    guard folder.hasPrefix("layouts/v5") else { return }  // hub-mha-float16 is another model
    let policy = try load(Self.policy)
    for name in canonicalNames(policy) {
      let expected = try policy.tensor(name).floats().map {
        dtype == .f16 ? Float(Float16($0)) : Fixtures.roundedToBFloat16($0)
      }
      #expect(try variant.tensor(name).floats() == expected, "\(folder): \(name)")
    }
  }

  @Test func sparseConfigsTakeTheDefaults() throws {
    let sparse = try LlavaConfig.load(directory: Fixtures.path("layouts/v4-sparse-config"))
    let full = try LlavaConfig.load(directory: Fixtures.path(Self.policy))
    #expect(sparse == full)
    let mha = try LlavaConfig.load(directory: Fixtures.path("layouts/hub-mha-float16"))
    #expect(
      mha.text.numKeyValueHeads == 4 && mha.text.numAttentionHeads == 4
        && mha.text.rmsNormEps == 1e-5
    )
    #expect(
      mha.text.rope.theta == 10_000 && mha.vision.hiddenAct == "quick_gelu"
        && mha.projectorHiddenAct == "gelu"
    )
    let v4 = try LlavaConfig.load(directory: Fixtures.path("layouts/v4-names"))
    #expect(v4.text.rope.theta == 10_000 && v4 == full)
  }

  @Test func rewardModelHasAScoreHeadAndNoLMHead() throws {
    let reward = try load("tiny-llava-reward")
    #expect(reward.head == .reward && reward.report.unexpected.isEmpty)
    #expect(try reward.tensor(LlavaWeightNames.score).shape == [1, 64])
    #expect(!reward.contains(LlavaWeightNames.lmHead))
    // Loading it as a policy fails, naming the missing head.
    let error = checkpointError {
      _ = try LlavaCheckpoint(directory: Fixtures.path("tiny-llava-reward"), head: .languageModel)
    }
    #expect(
      error?.code == .missingTensors
        && error?.message.contains("language_model.lm_head.weight") == true
    )
  }

  @Test func namesTableOfTheFixtureScriptAgrees() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("layouts/layouts.json")))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let rows = try #require(json["names"] as? [[String: String]])
    #expect(rows.count > 50)
    for row in rows {
      let spellings = row.values.map { LlavaLayout.detect([$0]).canonicalName(for: $0) }
      #expect(Set(spellings).count == 1, "\(row)")
      #expect(
        ["text.", "vision.", "projector.", "lm_head."].contains { spellings[0].hasPrefix($0) },
        "\(row)"
      )
    }
  }

  @Test func preprocessorConfigs() throws {
    for folder in [Self.policy, "layouts/v4-names"] {
      let c = try ImageProcessorConfig.load(directory: Fixtures.path(folder))
      #expect(
        c.size == .shortestEdge(32) && c.cropHeight == 32 && c.cropWidth == 32
          && c.resample == .bicubic
      )
      #expect(c.imageMean == ImageProcessorConfig.openAIClipMean && !c.padToSquare)
    }
  }

  @Test(arguments: ["adapter", "rslora"])
  func peftAdapterMergesLikePEFT(variant: String) throws {
    let directory = try #require(Fixtures.input("peft-lora-tiny/\(variant)"))
    let merged = try SafeTensorsFile(
      path: #require(Fixtures.input("peft-lora-tiny/merged.safetensors"))
    )
    let policy = try load(Self.policy)
    let lora = try LoRAAdapter(directory: directory)
    try lora.validate(against: policy)
    #expect(lora.deltas.count == 8 && lora.config.rank == 2)
    #expect(lora.config.scale == (variant == "adapter" ? 2 : 3 / 2.0.squareRoot()))
    for delta in lora.deltas {
      let ours = try LoRAMerge.merged(policy.tensor(delta.target), delta)
      let reference = try #require(
        merged.tensorNames.first { name in
          let tensor = String(name.dropFirst(variant.count + 1))
          return name.hasPrefix(variant + "/")
            && LlavaLayout.detect([tensor]).canonicalName(for: tensor) == delta.target
        },
        "no PEFT merge for \(delta.target)"
      )
      let theirs = try merged.tensor(reference).floats()
      let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
      #expect(worst < 1e-6, "\(delta.target): max |Δ| \(worst)")
    }
  }
}
