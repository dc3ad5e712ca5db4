// config.json as llava-hf checkpoints really write it: full, sparse (defaults filled in from
// LlamaConfig / CLIPVisionConfig / LlavaConfig), RoPE in its three places, and the refusals.
import Checkpoints
import Foundation
import Testing

@Suite struct LlavaConfigTests {
  private func decode(_ json: String) throws -> LlavaConfig {
    try LlavaConfig.decode(Array(json.utf8), file: "config.json")
  }

  /// A minimal valid config with `text` and `top` spliced in.
  private func config(text: String = "", top: String = "") -> String {
    let textFields = ["\"model_type\": \"llama\"", text].filter { !$0.isEmpty }.joined(
      separator: ", "
    )
    let topFields = ["\"model_type\": \"llava\"", "\"text_config\": {\(textFields)}", top].filter {
      !$0.isEmpty
    }
    return "{" + topFields.joined(separator: ", ") + "}"
  }

  @Test func realSparseHubConfigTakesTheDefaults() throws {
    let url = try #require(
      Bundle.module.url(forResource: "Inputs/llava-1.5-7b-hf.config", withExtension: "json")
    )
    let c = try LlavaConfig.load(path: url.path)
    #expect(c.architectures == ["LlavaForConditionalGeneration"] && c.head == .languageModel)
    // Given in the file.
    #expect(
      c.text.vocabSize == 32_064 && c.text.maxPositionEmbeddings == 4096
        && c.text.rmsNormEps == 1e-5
    )
    #expect(c.vision.hiddenSize == 1024 && c.vision.imageSize == 336 && c.vision.patchSize == 14)
    #expect(
      c.vision.numHiddenLayers == 24 && c.vision.numAttentionHeads == 16
        && c.vision.intermediateSize == 4096
    )
    // LlamaConfig defaults.
    #expect(
      c.text.hiddenSize == 4096 && c.text.intermediateSize == 11_008 && c.text.numHiddenLayers == 32
    )
    #expect(
      c.text.numAttentionHeads == 32 && c.text.numKeyValueHeads == 32 && c.text.headDim == 128
    )
    #expect(c.text.hiddenAct == "silu" && c.text.rope == RopeConfig(theta: 10_000, scaling: .none))
    #expect(c.text.bosTokenId == 1 && c.text.eosTokenIds == [2] && c.text.padTokenId == nil)
    #expect(!c.text.tieWordEmbeddings && !c.tieWordEmbeddings)
    // CLIPVisionConfig defaults.
    #expect(
      c.vision.hiddenAct == "quick_gelu" && c.vision.layerNormEps == 1e-5
        && c.vision.numChannels == 3
    )
    // LlavaConfig.
    #expect(
      c.imageTokenIndex == 32_000 && c.projectorHiddenAct == "gelu" && c.visionFeatureLayer == -2
    )
    #expect(
      c.visionFeatureSelectStrategy == .default && c.imageSeqLength == 576
        && c.multimodalProjectorBias
    )
    #expect(c.visionLayersUsed == 23 && c.imageFeatureCount == 576 && c.vision.positionCount == 577)
  }

  @Test func absentSubConfigsAreLlamaAndClipL336() throws {
    let c = try decode(#"{"model_type": "llava"}"#)
    #expect(c.text == LlamaTextConfig())
    #expect(c.vision == CLIPVisionConfig.llavaDefault)
    #expect(c.vision.hiddenSize == 1024 && c.vision.patchSize == 14 && c.vision.imageSize == 336)
    #expect(c.vision.numHiddenLayers == 24 && c.vision.projectionDim == 768)
  }

  @Test func sparseVisionConfigTakesClipDefaultsNotLlavas() throws {
    let c = try decode(config(top: #""vision_config": {"model_type": "clip_vision_model"}"#))
    #expect(c.vision == CLIPVisionConfig())
    #expect(c.vision.hiddenSize == 768 && c.vision.patchSize == 32 && c.vision.imageSize == 224)
    #expect(c.vision.projectionDim == 512)
  }

  @Test func fullConfigWithGQAAndExplicitValues() throws {
    let text = #"""
      "vocab_size": 641, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "hidden_act": "silu",
      "rms_norm_eps": 1e-06, "max_position_embeddings": 256, "tie_word_embeddings": true,
      "bos_token_id": 1, "eos_token_id": [2, 5], "pad_token_id": null,
      "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}
      """#
    let top = #"""
      "image_token_id": 640, "vision_feature_layer": [-1], "vision_feature_select_strategy": "full",
      "image_seq_length": 17, "multimodal_projector_bias": false, "projector_hidden_act": "gelu",
      "vision_config": {"hidden_size": 32, "image_size": 32, "patch_size": 8, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu", "layer_norm_eps": 1e-6}
      """#
    let c = try decode(config(text: text, top: top))
    #expect(c.text.numKeyValueHeads == 2 && c.text.headDim == 16 && c.text.eosTokenIds == [2, 5])
    #expect(c.text.rope.theta == 500_000 && c.tieWordEmbeddings)
    #expect(c.imageTokenIndex == 640 && c.visionFeatureLayer == -1 && c.visionLayersUsed == 2)
    #expect(c.imageFeatureCount == 17 && !c.multimodalProjectorBias && c.vision.hiddenAct == "gelu")
  }

  @Test func ropeThetaAtTheTopOfTextConfig() throws {
    #expect(try decode(config(text: #""rope_theta": 1e6"#)).text.rope.theta == 1_000_000)
    // rope_parameters beats the top-level value, as in transformers.
    let both = #""rope_theta": 1e6, "rope_parameters": {"rope_type": "default", "rope_theta": 5e5}"#
    #expect(try decode(config(text: both)).text.rope.theta == 500_000)
    #expect(
      try decode(config(text: #""rope_scaling": null, "rope_theta": 7.0"#)).text.rope.theta == 7
    )
  }

  @Test func linearRopeScaling() throws {
    let legacy = try decode(
      config(text: #""rope_scaling": {"type": "linear", "factor": 2.0}, "rope_theta": 1e4"#)
    )
    #expect(legacy.text.rope == RopeConfig(theta: 10_000, scaling: .linear(factor: 2)))
    let modern = try decode(
      config(text: #""rope_parameters": {"rope_type": "linear", "factor": 4, "rope_theta": 5e5}"#)
    )
    #expect(modern.text.rope == RopeConfig(theta: 500_000, scaling: .linear(factor: 4)))
  }

  @Test(arguments: [
    (
      #"{"model_type": "llava_next"}"#, CheckpointError.Code.unsupportedArchitecture, "'llava_next'"
    ),
    (#"{"model_type": "llava_llama"}"#, .unsupportedArchitecture, "'llava_llama'"),
    (
      #"{"architectures": ["LlavaForConditionalGeneration"]}"#, .invalidConfig,
      "model_type is missing"
    ),
    (
      #"{"model_type": "llava", "architectures": ["LlavaNextForConditionalGeneration"]}"#,
      .unsupportedArchitecture, "LlavaNext"
    ),
    (
      #"{"model_type": "llava", "text_config": {"model_type": "mistral"}}"#,
      .unsupportedArchitecture, "'mistral'"
    ),
    (
      #"{"model_type": "llava", "vision_config": {"model_type": "siglip_vision_model"}}"#,
      .unsupportedArchitecture, "siglip"
    ),
    (
      #"{"model_type": "llava", "vision_feature_layer": [-2, -5]}"#, .unsupportedArchitecture,
      "[-2, -5]"
    ),
    (
      #"{"model_type": "llava", "vision_feature_layer": 30}"#, .invalidConfig,
      "vision_feature_layer 30"
    ),
    (#"{"model_type": "llava", "vision_feature_select_strategy": "cls"}"#, .invalidConfig, "'cls'"),
    (
      #"{"model_type": "llava", "projector_hidden_act": "relu6"}"#, .unsupportedArchitecture,
      "'relu6'"
    ),
    (
      #"{"model_type": "llava", "image_token_index": 5, "image_token_id": 6}"#, .invalidConfig,
      "disagree"
    ),
    (
      #"{"model_type": "llava", "text_config": {"rope_scaling": {"rope_type": "dynamic", "factor": 2}}}"#,
      .unsupportedArchitecture, "'dynamic'"
    ),
    (
      #"{"model_type": "llava", "text_config": {"rope_scaling": {"type": "linear"}}}"#,
      .invalidConfig, "factor"
    ),
    (
      #"{"model_type": "llava", "text_config": {"hidden_size": "64"}}"#, .invalidConfig,
      "text_config.hidden_size"
    ),
    (
      #"{"model_type": "llava", "text_config": {"num_key_value_heads": 3}}"#, .invalidConfig,
      "multiple"
    ),
    (
      #"{"model_type": "llava", "text_config": {"hidden_act": "gelu"}}"#, .unsupportedArchitecture,
      "'gelu'"
    ),
    (
      #"{"model_type": "llava", "architectures": ["LlavaForSequenceClassification"], "num_labels": 2}"#,
      .unsupportedArchitecture, "num_labels"
    ),
    (#"{"model_type": "llava""#, .invalidConfig, "config.json"),
  ])
  func refuses(json: String, code: CheckpointError.Code, mention: String) {
    let error = checkpointError { _ = try decode(json) }
    #expect(error?.code == code, "\(error?.description ?? "accepted")")
    #expect(error?.message.contains(mention) == true, "\(error?.message ?? "")")
    #expect(error?.message.hasPrefix("config.json: ") == true)
  }

  @Test func rewardArchitectureSelectsTheScoreHead() throws {
    let c = try decode(
      #"{"model_type": "llava", "architectures": ["LlavaForSequenceClassification"], "num_labels": 1}"#
    )
    #expect(c.head == .reward)
  }
}

@Suite struct ImageProcessorConfigTests {
  private func decode(_ json: String) throws -> ImageProcessorConfig {
    let directory = try TemporaryDirectory()
    return try ImageProcessorConfig.load(path: directory.write("preprocessor_config.json", json))
  }

  @Test func defaultsAreCLIPImageProcessors() throws {
    let c = try decode("{}")
    #expect(c == ImageProcessorConfig())
    #expect(
      c.size == .shortestEdge(224) && c.cropHeight == 224 && c.cropWidth == 224
        && c.resample == .bicubic
    )
    #expect(
      c.doResize && c.doCenterCrop && c.doRescale && c.doNormalize && c.doConvertRGB
        && !c.padToSquare
    )
    #expect(c.rescaleFactor == 1.0 / 255 && c.imageMean == ImageProcessorConfig.openAIClipMean)
  }

  @Test func sizesInEveryForm() throws {
    let exact = try decode(
      #"{"size": {"height": 336, "width": 300}, "crop_size": 336, "image_aspect_ratio": "pad"}"#
    )
    #expect(
      exact.size == .exact(height: 336, width: 300) && exact.cropHeight == 336 && exact.padToSquare
    )
    let legacy = try decode(
      #"{"size": 336, "do_center_crop": false, "resample": 2, "image_std": [1, 1, 1]}"#
    )
    #expect(
      legacy.size == .shortestEdge(336) && !legacy.doCenterCrop && legacy.resample == .bilinear
    )
  }

  @Test(arguments: [
    (#"{"size": {"longest_edge": 10}}"#, CheckpointError.Code.unsupportedArchitecture),
    (#"{"image_processor_type": "SiglipImageProcessor"}"#, .unsupportedArchitecture),
    (#"{"image_aspect_ratio": "anyres"}"#, .unsupportedArchitecture),
    (#"{"resample": 9}"#, .invalidConfig),
    (#"{"image_std": [0, 1, 1]}"#, .invalidConfig),
    (#"{"image_mean": [0.5]}"#, .invalidConfig),
    (#"{"crop_size": {"height": 0, "width": 4}}"#, .invalidConfig),
  ])
  func refuses(json: String, code: CheckpointError.Code) {
    #expect(checkpointError { _ = try decode(json) }?.code == code)
  }
}
