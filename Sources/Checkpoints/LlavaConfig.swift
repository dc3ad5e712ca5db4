// A llava-hf `config.json` (transformers LlavaConfig). Omitted keys take LlavaConfig's defaults,
// checked against transformers src/transformers/models/llava/configuration_llava.py (commit
// 053f59e, 4.x; the 5.x dataclass has the same values): image_token_index 32000 (alias
// `image_token_id` through `attribute_map`), projector_hidden_act "gelu",
// vision_feature_select_strategy "default" (only "default" or "full"), vision_feature_layer -2,
// image_seq_length 576, multimodal_projector_bias True, tie_word_embeddings False (True when
// text_config says so). An absent `text_config` is LlamaConfig(); an absent `vision_config` is
// CLIP ViT-L/14-336 (`CLIPVisionConfig.llavaDefault`).
import Foundation

/// Which vision-tower tokens feed the projector.
public enum VisionFeatureSelectStrategy: String, Sendable, Equatable {
  /// Drop the class token (hidden_states[layer][:, 1:]).
  case `default`
  /// Keep every token, class token included.
  case full
}

/// The model config of a llava-hf checkpoint.
public struct LlavaConfig: Sendable, Equatable, Decodable {
  /// Architectures (the `architectures` list) this loader implements.
  /// `LlavaForSequenceClassification` is this project's reward model: the LLaVA backbone plus a
  /// `score` Linear(hidden, 1, bias=False) read at the last position (`num_labels` 1).
  public static let supportedArchitectures: Set<String> = [
    "LlavaForConditionalGeneration", "LlavaForSequenceClassification",
  ]

  public var architectures: [String] = []
  public var text = LlamaTextConfig()
  public var vision = CLIPVisionConfig.llavaDefault
  public var imageTokenIndex = 32_000
  /// The vision hidden-state index as written (negative counts from the end).
  public var visionFeatureLayer = -2
  public var visionFeatureSelectStrategy = VisionFeatureSelectStrategy.default
  public var projectorHiddenAct = "gelu"
  /// As written; the processor's figure, not checked against the vision tower (see `imageFeatureCount`).
  public var imageSeqLength = 576
  public var multimodalProjectorBias = true
  /// Whether lm_head shares the embedding matrix (top level or text_config).
  public var tieWordEmbeddings = false
  /// Original LLaVA's `image_aspect_ratio` ("pad" = pad to square), when present.
  public var imageAspectRatio: String?

  public init() {}

  /// Reads `config.json` at `path`.
  public static func load(path: String) throws(CheckpointError) -> LlavaConfig {
    try ConfigDecoding.load(LlavaConfig.self, from: path)
  }

  /// Reads `directory/config.json`.
  public static func load(directory: String) throws(CheckpointError) -> LlavaConfig {
    try load(path: FileIO.join(directory, "config.json"))
  }

  /// Decodes config JSON; `file` names it in messages.
  public static func decode(_ json: [UInt8], file: String = "config.json") throws(CheckpointError)
    -> LlavaConfig
  {
    try ConfigDecoding.decode(LlavaConfig.self, from: Data(json), file: file)
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    guard let modelType: String = try c.optional("model_type") else {
      throw invalidConfig("model_type is missing (expected 'llava')")
    }
    guard modelType == "llava" else {
      throw unsupported(
        "model_type '\(modelType)' is not supported (only 'llava', as llava-hf checkpoints write)"
      )
    }
    architectures = try c.value("architectures", or: [])
    let unknown = architectures.filter { !Self.supportedArchitectures.contains($0) }
    if !unknown.isEmpty || architectures.count > 1 {
      throw unsupported(
        "architectures \(architectures) are not supported (one of \(Self.supportedArchitectures.sorted()))"
      )
    }
    let labels: Int = try c.value("num_labels", or: 1)
    if head == .reward && labels != 1 {
      throw unsupported("num_labels \(labels): the reward head must have exactly one output")
    }
    text = try c.value("text_config", or: LlamaTextConfig())
    vision = try c.value("vision_config", or: CLIPVisionConfig.llavaDefault)
    let index: Int? = try c.optional("image_token_index")
    let id: Int? = try c.optional("image_token_id")
    if let index, let id, index != id {
      throw invalidConfig("image_token_index (\(index)) and image_token_id (\(id)) disagree")
    }
    imageTokenIndex = index ?? id ?? imageTokenIndex
    visionFeatureLayer = try Self.decodeFeatureLayer(c)
    let strategy: String = try c.value("vision_feature_select_strategy", or: "default")
    guard let select = VisionFeatureSelectStrategy(rawValue: strategy) else {
      throw invalidConfig(
        "vision_feature_select_strategy '\(strategy)' must be 'default' or 'full'"
      )
    }
    visionFeatureSelectStrategy = select
    projectorHiddenAct = try c.value("projector_hidden_act", or: projectorHiddenAct)
    imageSeqLength = try c.value("image_seq_length", or: imageSeqLength)
    multimodalProjectorBias = try c.value("multimodal_projector_bias", or: true)
    tieWordEmbeddings = try c.value("tie_word_embeddings", or: false) || text.tieWordEmbeddings
    imageAspectRatio = try c.optional("image_aspect_ratio")
    try validate()
  }

  private static func decodeFeatureLayer(_ c: KeyedDecodingContainer<AnyKey>) throws -> Int {
    switch try c.value("vision_feature_layer", or: IntOrList.one(-2)) {
    case .one(let layer): return layer
    case .list(let layers) where layers.count == 1: return layers[0]
    case .list(let layers):
      throw unsupported(
        "vision_feature_layer \(layers) (features concatenated from several layers) is not supported; use one layer"
      )
    }
  }

  func validate() throws(CheckpointError) {
    let layers = vision.numHiddenLayers
    guard (-(layers + 1)...layers).contains(visionFeatureLayer) else {
      throw invalidConfig(
        "vision_feature_layer \(visionFeatureLayer) is outside the \(layers + 1) hidden states of the vision tower"
      )
    }
    guard ["gelu", "quick_gelu", "silu"].contains(projectorHiddenAct) else {
      throw unsupported(
        "projector_hidden_act '\(projectorHiddenAct)' is not supported (gelu, quick_gelu, silu)"
      )
    }
    // Not checked against vocab_size: the defaults themselves (32000 of 32000) fall outside, and
    // the image token's embedding row is never read (its positions take the image features).
    guard imageTokenIndex >= 0 else {
      throw invalidConfig("image_token_index \(imageTokenIndex) is negative")
    }
  }

  /// The head the architecture implies: `score` for LlavaForSequenceClassification, else lm_head.
  public var head: LlavaHead {
    architectures.contains("LlavaForSequenceClassification") ? .reward : .languageModel
  }

  /// Encoder layers to run: the selected hidden state is the output of this many layers
  /// (hidden state 0 is the pre-layernormed embeddings).
  public var visionLayersUsed: Int {
    visionFeatureLayer >= 0 ? visionFeatureLayer : vision.numHiddenLayers + 1 + visionFeatureLayer
  }

  /// Image features per image after selection: the patches, plus the class token for "full".
  public var imageFeatureCount: Int {
    vision.patchCount + (visionFeatureSelectStrategy == .full ? 1 : 0)
  }
}
