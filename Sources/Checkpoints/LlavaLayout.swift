// How a LLaVA checkpoint spells its tensor names. The model code uses canonical names
// (`LlavaWeightNames`: "text.…", "lm_head.weight", "vision.…", "projector.…", "score.weight");
// a layout maps each of the four components to the prefix a checkpoint uses. Spellings seen
// (transformers modeling_llava.py `_checkpoint_conversion_mapping`, 4.52+, and 5.x
// conversion_mapping.py "llava" renamings plus `CLIPVisionModel: PrefixChange(remove
// "vision_model")`):
//   hub / transformers < 4.52:   language_model.model.*  language_model.lm_head.*  vision_tower.vision_model.*  multi_modal_projector.*
//   4.52–4.57 module names:      model.language_model.*  lm_head.*                 model.vision_tower.vision_model.*  model.multi_modal_projector.*
//   transformers 5.x modules:    model.language_model.*  lm_head.*                 model.vision_tower.*  model.multi_modal_projector.*
//   transformers 5.24 saved:     language_model.model.*  language_model.lm_head.*  vision_tower.*  multi_modal_projector.*
// Each component is detected on its own, so every combination of these prefixes resolves.

/// The prefixes a checkpoint uses for the four parts of a LLaVA model.
public struct LlavaLayout: Sendable, Hashable, CustomStringConvertible {
  /// Prefix of the language model body (embeddings, layers, final norm).
  public var text: String
  /// Prefix of the LM head.
  public var lmHead: String
  /// Prefix of the CLIP vision model (embeddings, pre_layrnorm, encoder, post_layernorm).
  public var vision: String
  /// Prefix of the multimodal projector.
  public var projector: String

  public init(text: String, lmHead: String, vision: String, projector: String) {
    self.text = text
    self.lmHead = lmHead
    self.vision = vision
    self.projector = projector
  }

  /// The names `LlavaWeightNames` produces.
  public static let canonical = LlavaLayout(
    text: "text.",
    lmHead: "lm_head.",
    vision: "vision.",
    projector: "projector."
  )
  /// Hub checkpoints (llava-hf/*, transformers < 4.52).
  public static let hub = LlavaLayout(
    text: "language_model.model.",
    lmHead: "language_model.lm_head.",
    vision: "vision_tower.vision_model.",
    projector: "multi_modal_projector."
  )
  /// transformers 5 module names (`save_pretrained(save_original_format=False)`).
  public static let transformers5Modules = LlavaLayout(
    text: "model.language_model.",
    lmHead: "lm_head.",
    vision: "model.vision_tower.",
    projector: "model.multi_modal_projector."
  )

  static let textPrefixes = ["language_model.model.", "model.language_model."]
  static let lmHeadPrefixes = ["language_model.lm_head.", "lm_head."]
  static let visionPrefixes = [
    "vision_tower.vision_model.", "vision_tower.", "model.vision_tower.vision_model.",
    "model.vision_tower.",
  ]
  static let projectorPrefixes = ["multi_modal_projector.", "model.multi_modal_projector."]

  public var description: String {
    "text '\(text)', lm_head '\(lmHead)', vision '\(vision)', projector '\(projector)'"
  }

  private var pairs: [(canonical: String, actual: String)] {
    let canonical = Self.canonical
    return [
      (canonical.text, text), (canonical.lmHead, lmHead), (canonical.vision, vision),
      (canonical.projector, projector),
    ]
  }

  /// This layout's spelling of a canonical name (names outside the four parts, such as
  /// `score.weight`, are the same in every layout).
  public func name(forCanonical canonical: String) -> String {
    for (canonicalPrefix, actual) in pairs where canonical.hasPrefix(canonicalPrefix) {
      return actual + canonical.dropFirst(canonicalPrefix.count)
    }
    return canonical
  }

  /// The canonical name for a name of this layout; names under none of its prefixes come back
  /// unchanged (the caller decides whether they are known).
  public func canonicalName(for name: String) -> String {
    // Longest prefix first, so "vision_tower.vision_model." wins over a "vision_tower." elsewhere.
    let match = pairs.filter { name.hasPrefix($0.actual) }.max { $0.actual.count < $1.actual.count }
    guard let match else { return name }
    return match.canonical + name.dropFirst(match.actual.count)
  }

  /// The layout that spells the most of `names`, each part detected on its own. Parts without
  /// tensors follow the text part's style (hub-like or transformers-5-like).
  public static func detect(_ names: some Sequence<String>) -> LlavaLayout {
    let groups = [textPrefixes, lmHeadPrefixes, visionPrefixes, projectorPrefixes]
    var counts = groups.map { [Int](repeating: 0, count: $0.count) }
    for name in names {
      for (group, prefixes) in groups.enumerated() {
        let best = prefixes.indices.filter { name.hasPrefix(prefixes[$0]) }.max {
          prefixes[$0].count < prefixes[$1].count
        }
        if let best { counts[group][best] += 1 }
      }
    }
    let hubStyle = counts[0][1] <= counts[0][0]
    func choose(_ group: Int, hubDefault: String, modulesDefault: String) -> String {
      guard let top = counts[group].indices.max(by: { counts[group][$0] < counts[group][$1] }),
        counts[group][top] > 0
      else { return hubStyle ? hubDefault : modulesDefault }
      return groups[group][top]
    }
    let hub = Self.hub
    let modules = Self.transformers5Modules
    return LlavaLayout(
      text: choose(0, hubDefault: hub.text, modulesDefault: modules.text),
      lmHead: choose(1, hubDefault: hub.lmHead, modulesDefault: modules.lmHead),
      vision: choose(2, hubDefault: hub.vision, modulesDefault: modules.vision),
      projector: choose(3, hubDefault: hub.projector, modulesDefault: modules.projector)
    )
  }
}
