// A tiny LLaVA config and checkpoints written in any layout, for the naming and LoRA tests.
import Checkpoints

enum TinyLlava {
  static let configJSON = #"""
    {
      "model_type": "llava", "architectures": ["LlavaForConditionalGeneration"],
      "image_token_index": 15, "image_seq_length": 4,
      "text_config": {"model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 12,
        "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1},
      "vision_config": {"model_type": "clip_vision_model", "hidden_size": 4, "intermediate_size": 6,
        "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 4, "patch_size": 2}
    }
    """#

  static func config(reward: Bool = false, tied: Bool = false) throws -> LlavaConfig {
    var config = try LlavaConfig.decode(Array(configJSON.utf8))
    if reward { config.architectures = ["LlavaForSequenceClassification"] }
    config.tieWordEmbeddings = tied
    return config
  }

  /// Every tensor the config implies (required ones, plus the unused last vision layer and
  /// post_layernorm as real checkpoints have them), spelled in `layout`, with values that depend
  /// only on the canonical name.
  static func tensors(
    _ config: LlavaConfig,
    layout: LlavaLayout,
    head: LlavaHead = .languageModel
  ) -> [TestTensor] {
    LlavaWeightNames.expected(for: config, head: head).compactMap { expected in
      guard let shape = expected.shape, expected.required || expected.name.hasPrefix("vision.")
      else { return nil }
      return TestTensor.f32(
        layout.name(forCanonical: expected.name),
        shape,
        seed: seed(expected.name)
      )
    }
  }

  static func seed(_ canonical: String) -> Int {
    canonical.unicodeScalars.reduce(0) { ($0 &* 31 &+ Int($1.value)) % 1000 }
  }

  static func checkpoint(
    _ tensors: [TestTensor],
    config: LlavaConfig,
    head: LlavaHead = .languageModel
  ) throws -> LlavaCheckpoint {
    let file = try SafeTensorsFile(
      contents: SafeTensorsWriter.file(tensors),
      name: "tiny.safetensors"
    )
    return try LlavaCheckpoint(
      config: config,
      weights: SafeTensorsCheckpoint(file: file),
      head: head,
      source: "tiny"
    )
  }
}
