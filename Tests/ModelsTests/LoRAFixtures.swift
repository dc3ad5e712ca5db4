// The PEFT adapters of Tests/Fixtures/lora (tools/reference/make_lora_fixtures.py) and
// transformers + PEFT logits for them.
import Checkpoints
import Engine
import Models

enum LoRAFixtures {
  static let variants = ["adapter-a", "adapter-b"]
  /// Positions at the end of each prompt whose logits the fixture holds.
  static let lastPositions = 4

  static func directory(_ variant: String) -> String { Fixtures.path("lora/" + variant) }

  static func adapter(_ variant: String, base: LlavaWeights) throws -> DecoderAdapter {
    try DecoderAdapter(directory: directory(variant), base: base)
  }

  /// transformers + PEFT logits of the last `lastPositions` positions, `(4, V)`.
  static func logits(_ variant: String, _ name: String) throws -> [Float] {
    try SafeTensorsFile(path: Fixtures.path("lora/lora.safetensors"))
      .tensor("\(variant).\(name).logits").floats()
  }
}
