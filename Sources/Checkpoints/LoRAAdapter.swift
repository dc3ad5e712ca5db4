// A PEFT LoRA adapter: `adapter_config.json` + `adapter_model.safetensors`. PEFT saves
// `base_model.model.<module path>.lora_A.weight` (r, in) and `.lora_B.weight` (out, r), the adapter
// name removed (src/peft/utils/save_and_load.py `get_peft_model_state_dict` →
// `_remove_adapter_name_from_state_dict_key`); a `.lora_A.<adapter>.weight` spelling is accepted
// and the adapter name dropped. Module paths follow the model's module names, which depend on the
// transformers version, so each is mapped to a canonical tensor name through `LlavaLayout`. The
// deltas stay unmerged (views into the file); `LoRAMerge` folds them into fp32 copies. With
// `modules_to_save: ["score"]` the file also holds a reward model's trained score head
// (`RewardScoreHead`), read into `head`.

/// One LoRA pair: the target weight W (out, in) becomes W + scale · B · A.
public struct LoRADelta: Sendable {
  /// Canonical name of the base weight (`LlavaWeightNames`).
  public var target: String
  /// The module path as the adapter spells it.
  public var module: String
  /// (r, in)
  public var a: TensorView
  /// (out, r)
  public var b: TensorView
  public var scale: Float

  public var rank: Int { a.shape[0] }
  public var inFeatures: Int { a.shape[1] }
  public var outFeatures: Int { b.shape[0] }
}

/// A validated LoRA adapter.
public final class LoRAAdapter: Sendable {
  public static let configFileName = "adapter_config.json"
  public static let weightsFileName = "adapter_model.safetensors"

  public let config: LoRAAdapterConfig
  public let file: SafeTensorsFile
  /// One delta per targeted weight, sorted by target.
  public let deltas: [LoRADelta]
  /// The trained score head (`modules_to_save: ["score"]`), or nil.
  public let head: RewardScoreHead?
  private let byTarget: [String: Int]

  public convenience init(directory: String) throws(CheckpointError) {
    let config = try LoRAAdapterConfig.load(path: FileIO.join(directory, Self.configFileName))
    let file = try SafeTensorsFile(path: FileIO.join(directory, Self.weightsFileName))
    try self.init(config: config, file: file)
  }

  public init(config: LoRAAdapterConfig, file: SafeTensorsFile) throws(CheckpointError) {
    var halves: [String: (a: TensorView?, b: TensorView?)] = [:]
    let headKeys = [RewardScoreHead.weightKey, RewardScoreHead.biasKey]
    for key in file.tensorNames {
      if headKeys.contains(key) {
        if config.savesScoreHead { continue }
        throw adapterError(
          "\(file.path): tensor '\(key)' is a trained score head, but adapter_config.json has no modules_to_save [\"score\"]"
        )
      }
      let (module, half) = try Self.parseKey(key, file: file.path)
      var pair = halves[module] ?? (nil, nil)
      if half == "lora_A" { pair.a = try file.tensor(key) } else { pair.b = try file.tensor(key) }
      halves[module] = pair
    }
    if halves.isEmpty { throw adapterError("\(file.path) holds no LoRA tensors") }
    var deltas: [LoRADelta] = []
    for (module, pair) in halves.sorted(by: { $0.key < $1.key }) {
      guard let a = pair.a, let b = pair.b else {
        throw adapterError(
          "\(file.path): module '\(module)' has lora_\(pair.a == nil ? "B" : "A") but no lora_\(pair.a == nil ? "A" : "B")"
        )
      }
      let target = Self.canonicalTarget(module)
      guard
        target.hasPrefix("text.") || target.hasPrefix("vision.") || target.hasPrefix("projector.")
          || target == LlavaWeightNames.lmHead
      else { throw adapterError("\(file.path): module '\(module)' is not part of a LLaVA model") }
      if config.targetModules.matches(module) == false {
        throw adapterError(
          "\(file.path): module '\(module)' is not in target_modules \(config.targetModules)"
        )
      }
      guard a.shape.count == 2, b.shape.count == 2, a.shape[0] == config.rank,
        b.shape[1] == config.rank
      else {
        throw adapterError(
          "\(file.path): module '\(module)': lora_A \(a.shape) and lora_B \(b.shape) do not have rank r = \(config.rank) as (r, in) and (out, r)"
        )
      }
      for view in [a, b] where !view.dtype.isConvertibleToFloat {
        throw adapterError(
          "\(file.path): tensor '\(view.name)' has dtype \(view.dtype); need F32, F16 or BF16"
        )
      }
      deltas.append(
        LoRADelta(target: target, module: module, a: a, b: b, scale: Float(config.scale))
      )
    }
    deltas.sort { $0.target < $1.target }
    var byTarget: [String: Int] = [:]
    for (index, delta) in deltas.enumerated() {
      if byTarget.updateValue(index, forKey: delta.target) != nil {
        throw adapterError("\(file.path): two modules adapt the same weight '\(delta.target)'")
      }
    }
    self.head = config.savesScoreHead ? try RewardScoreHead.read(file) : nil
    self.config = config
    self.file = file
    self.deltas = deltas
    self.byTarget = byTarget
  }

  /// The delta for a canonical weight name, if the adapter targets it.
  public func delta(for canonical: String) -> LoRADelta? { byTarget[canonical].map { deltas[$0] } }

  /// Checks every delta against the base weight it targets: it exists and is (out, in).
  public func validate(against checkpoint: LlavaCheckpoint) throws(CheckpointError) {
    var problems: [String] = []
    for delta in deltas {
      guard let info = checkpoint.weights.info(checkpoint.name(delta.target)) else {
        problems.append("\(delta.module): base has no '\(checkpoint.name(delta.target))'")
        continue
      }
      if info.shape != [delta.outFeatures, delta.inFeatures] {
        problems.append(
          "\(delta.module): base weight is \(info.shape), the adapter needs [\(delta.outFeatures), \(delta.inFeatures)]"
        )
      }
    }
    if let head {
      let shape = checkpoint.weights.info(checkpoint.name(LlavaWeightNames.score))?.shape
      if shape != [1, head.weight.count] {
        problems.append(
          "score: the adapter's head has \(head.weight.count) inputs, the base's score.weight is \(shape.map { "\($0)" } ?? "absent (not a reward model)")"
        )
      }
    }
    if !problems.isEmpty {
      throw adapterError(
        "\(file.path) does not fit the base checkpoint: \(listForMessage(problems))"
      )
    }
  }

  /// Splits `base_model.model.<module>.lora_{A,B}[.<adapter>].weight`.
  static func parseKey(_ key: String, file: String) throws(CheckpointError) -> (
    module: String, half: String
  ) {
    let prefix = "base_model.model."
    var parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    let unsupported = [
      "lora_embedding_A": "embedding LoRA", "lora_embedding_B": "embedding LoRA",
      "lora_magnitude_vector": "DoRA",
      "modules_to_save": "modules_to_save", "original_module": "modules_to_save",
    ]
    if let feature = parts.lazy.compactMap({ unsupported[$0] }).first {
      throw adapterError("\(file): tensor '\(key)' belongs to \(feature), which is not supported")
    }
    let expected = "expected \(prefix)<module>.lora_A.weight or .lora_B.weight"
    guard key.hasPrefix(prefix), parts.last == "weight" else {
      throw adapterError("\(file): unexpected tensor '\(key)' (\(expected))")
    }
    parts.removeLast()
    if parts.count >= 2, ["lora_A", "lora_B"].contains(parts[parts.count - 2]) {
      parts.removeLast()
    }
    guard let half = parts.last, ["lora_A", "lora_B"].contains(half) else {
      throw adapterError("\(file): unexpected tensor '\(key)' (\(expected))")
    }
    parts.removeLast()
    let module = parts.joined(separator: ".").dropFirst(prefix.count)
    guard !module.isEmpty else { throw adapterError("\(file): tensor '\(key)' names no module") }
    return (String(module), half)
  }

  /// The canonical base weight for a module path of any LLaVA layout.
  static func canonicalTarget(_ module: String) -> String {
    let weight = module + ".weight"
    return LlavaLayout.detect([weight]).canonicalName(for: weight)
  }
}
