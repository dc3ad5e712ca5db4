// `adapter_config.json` of a PEFT LoRA adapter. Defaults checked against PEFT
// src/peft/tuners/lora/config.py (`LoraConfig`, mirror 5d602fd): r 8, lora_alpha 8,
// lora_dropout 0.0 (training only, ignored), fan_in_fan_out False, bias "none", use_rslora False,
// modules_to_save None. Scaling as in src/peft/tuners/lora/layer.py `update_layer`:
// lora_alpha / sqrt(r) with use_rslora, else lora_alpha / r. PEFT forces fan_in_fan_out to False
// for nn.Linear targets (every LLaVA target is one), so it is ignored here as well. Options that
// change the arithmetic or add tensors beyond A and B are refused by name, except
// `modules_to_save: ["score"]`: a reward model's trained score head (`RewardScoreHead`; PEFT's
// SEQ_CLS task type adds "classifier" too, which no LLaVA or LLaMA model has, so it is allowed).
import Foundation

/// Which modules an adapter targets, as `target_modules` says.
public enum LoRATargetModules: Sendable, Equatable {
  /// Module names, matched as PEFT does: equal, or the module path ends with "." + name.
  case names([String])
  /// A regular expression matched against the whole module path (PEFT's `re.fullmatch`).
  case pattern(String)
  /// Not given.
  case unspecified

  /// Whether `module` (a module path) is targeted; `nil` when it cannot be decided here.
  public func matches(_ module: String) -> Bool? {
    switch self {
    case .names(let names):
      return names.contains { module == $0 || module.hasSuffix("." + $0) }
    case .pattern(let pattern):
      if pattern == "all-linear" { return nil }
      guard let regex = try? Regex(pattern) else { return nil }
      return (try? regex.wholeMatch(in: module)) != nil
    case .unspecified:
      return nil
    }
  }
}

/// A PEFT LoRA adapter config.
public struct LoRAAdapterConfig: Sendable, Equatable, Decodable {
  public var rank = 8
  public var alpha = 8.0
  public var targetModules = LoRATargetModules.unspecified
  public var useRSLoRA = false
  public var fanInFanOut = false
  public var baseModelNameOrPath: String?
  public var taskType: String?
  /// Fully trained modules saved beside the LoRA pairs: empty, or `["score"]` (a reward
  /// model's score head, possibly with PEFT's "classifier").
  public var modulesToSave: [String] = []

  /// Whether the adapter carries a trained score head.
  public var savesScoreHead: Bool { modulesToSave.contains("score") }

  public init(
    rank: Int = 8,
    alpha: Double = 8,
    targetModules: LoRATargetModules = .unspecified,
    useRSLoRA: Bool = false
  ) {
    self.rank = rank
    self.alpha = alpha
    self.targetModules = targetModules
    self.useRSLoRA = useRSLoRA
  }

  public static func load(path: String) throws(CheckpointError) -> LoRAAdapterConfig {
    try ConfigDecoding.load(LoRAAdapterConfig.self, from: path)
  }

  /// The factor applied to B·A: alpha / r, or alpha / sqrt(r) with rsLoRA.
  public var scale: Double { useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank) }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    let type: String = try c.value("peft_type", or: "")
    guard type == "LORA" else {
      throw adapterError("peft_type '\(type)' is not supported (only LORA)")
    }
    rank = try c.value("r", or: 8)
    alpha = try c.value("lora_alpha", or: 8)
    guard rank > 0, alpha.isFinite else {
      throw adapterError("r must be positive and lora_alpha finite")
    }
    if let names: [String] = try? c.decode([String].self, forKey: "target_modules") {
      targetModules = .names(names)
    } else if let pattern: String = try c.optional("target_modules") {
      targetModules = .pattern(pattern)
    }
    useRSLoRA = try c.value("use_rslora", or: false)
    fanInFanOut = try c.value("fan_in_fan_out", or: false)
    baseModelNameOrPath = try c.optional("base_model_name_or_path")
    taskType = try c.optional("task_type")
    let bias: String = try c.value("bias", or: "none")
    guard bias == "none" else {
      throw adapterError("bias '\(bias)' is not supported (only 'none')")
    }
    if let modules: [String] = try c.optional("modules_to_save"), !modules.isEmpty {
      guard modules.contains("score"), modules.allSatisfy(["score", "classifier"].contains) else {
        throw adapterError(
          "modules_to_save \(modules) is not supported: the only fully trained module an adapter may carry is a reward model's score head ([\"score\"])"
        )
      }
      modulesToSave = modules
    }
    try Self.refuseUnsupported(c)
  }

  /// Options whose effect this loader does not implement, each refused by name.
  private static func refuseUnsupported(_ c: KeyedDecodingContainer<AnyKey>) throws {
    let flags = ["use_dora": "DoRA", "lora_bias": "lora_bias", "use_qalora": "QA-LoRA"]
    for (key, name) in flags.sorted(by: { $0.key < $1.key })
    where try c.value(AnyKey(stringValue: key), or: false) {
      throw adapterError("\(key) is set: \(name) adapters are not supported")
    }
    for key in ["rank_pattern", "alpha_pattern"] {
      let patterns: [String: Double] = try c.value(AnyKey(stringValue: key), or: [:])
      if !patterns.isEmpty {
        throw adapterError("\(key) (per-module rank or alpha) is not supported")
      }
    }
    for key in ["layer_replication", "trainable_token_indices", "alora_invocation_tokens"] {
      if c.contains(AnyKey(stringValue: key)), try !c.decodeNil(forKey: AnyKey(stringValue: key)) {
        throw adapterError("\(key) is set; it is not supported")
      }
    }
    if let parameters: [String] = try? c.decode([String].self, forKey: "target_parameters"),
      !parameters.isEmpty
    {
      throw adapterError(
        "target_parameters \(parameters) (LoRA on raw parameters) is not supported"
      )
    }
  }
}

func adapterError(_ message: String) -> CheckpointError {
  CheckpointError(.invalidAdapter, message)
}
