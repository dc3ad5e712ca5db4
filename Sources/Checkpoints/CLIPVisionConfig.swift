// `vision_config` of a llava-hf config.json: a transformers CLIPVisionConfig. Omitted keys take
// CLIPVisionConfig's defaults, checked against transformers
// src/transformers/models/clip/configuration_clip.py (commit 01841b3): hidden_size 768,
// intermediate_size 3072, projection_dim 512, num_hidden_layers 12, num_attention_heads 12,
// num_channels 3, image_size 224, patch_size 32, hidden_act "quick_gelu", layer_norm_eps 1e-5.
// An absent `vision_config` is not these defaults: LlavaConfig then builds CLIP ViT-L/14-336
// (see `CLIPVisionConfig.llavaDefault`).

/// The vision tower of a LLaVA checkpoint (CLIPVisionConfig).
public struct CLIPVisionConfig: Sendable, Equatable, Decodable {
  public var hiddenSize = 768
  public var intermediateSize = 3072
  public var numHiddenLayers = 12
  public var numAttentionHeads = 12
  public var numChannels = 3
  public var imageSize = 224
  public var patchSize = 32
  public var hiddenAct = "quick_gelu"
  public var layerNormEps = 1e-5
  /// Unused by LLaVA (the CLIP projection head is not part of the vision tower).
  public var projectionDim: Int? = 512

  /// CLIPVisionConfig's defaults.
  public init() {}

  /// What LlavaConfig builds when `vision_config` is absent (configuration_llava.py @053f59e:
  /// intermediate_size 4096, hidden_size 1024, patch_size 14, image_size 336,
  /// num_hidden_layers 24, num_attention_heads 16, projection_dim 768).
  public static var llavaDefault: CLIPVisionConfig {
    var config = CLIPVisionConfig()
    config.intermediateSize = 4096
    config.hiddenSize = 1024
    config.patchSize = 14
    config.imageSize = 336
    config.numHiddenLayers = 24
    config.numAttentionHeads = 16
    config.projectionDim = 768
    return config
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    let modelType = try c.value("model_type", or: "clip_vision_model")
    guard modelType == "clip_vision_model" else {
      throw unsupported(
        "vision_config.model_type '\(modelType)' is not supported (only 'clip_vision_model')"
      )
    }
    hiddenSize = try c.value("hidden_size", or: hiddenSize)
    intermediateSize = try c.value("intermediate_size", or: intermediateSize)
    numHiddenLayers = try c.value("num_hidden_layers", or: numHiddenLayers)
    numAttentionHeads = try c.value("num_attention_heads", or: numAttentionHeads)
    numChannels = try c.value("num_channels", or: numChannels)
    imageSize = try c.value("image_size", or: imageSize)
    patchSize = try c.value("patch_size", or: patchSize)
    hiddenAct = try c.value("hidden_act", or: hiddenAct)
    layerNormEps = try c.value("layer_norm_eps", or: layerNormEps)
    projectionDim = c.contains("projection_dim") ? try c.optional("projection_dim") : 512
    try validate()
  }

  /// Patches per image side.
  public var patchesPerSide: Int { imageSize / patchSize }
  /// Patches per image.
  public var patchCount: Int { patchesPerSide * patchesPerSide }
  /// Positions of the position embedding: the class token plus the patches.
  public var positionCount: Int { patchCount + 1 }
  public var headDim: Int { hiddenSize / numAttentionHeads }

  func validate() throws(CheckpointError) {
    let sizes = [
      ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
      ("num_hidden_layers", numHiddenLayers),
      ("num_attention_heads", numAttentionHeads), ("num_channels", numChannels),
      ("image_size", imageSize),
      ("patch_size", patchSize),
    ]
    for (name, value) in sizes where value <= 0 {
      throw invalidConfig("vision_config.\(name) must be positive, got \(value)")
    }
    guard hiddenSize % numAttentionHeads == 0 else {
      throw invalidConfig(
        "vision_config.hidden_size (\(hiddenSize)) is not a multiple of num_attention_heads (\(numAttentionHeads))"
      )
    }
    guard imageSize % patchSize == 0 else {
      throw invalidConfig(
        "vision_config.image_size (\(imageSize)) is not a multiple of patch_size (\(patchSize))"
      )
    }
    guard layerNormEps > 0, layerNormEps.isFinite else {
      throw invalidConfig("vision_config.layer_norm_eps must be positive")
    }
    guard ["quick_gelu", "gelu"].contains(hiddenAct) else {
      throw unsupported(
        "vision_config.hidden_act '\(hiddenAct)' is not supported (only 'quick_gelu' and 'gelu')"
      )
    }
  }
}
