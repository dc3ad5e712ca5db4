// Writing a PEFT LoRA adapter directory (`adapter_config.json` + `adapter_model.safetensors`, the
// layout `LoRAAdapter` reads and PEFT's `PeftModel.from_pretrained` loads), atomically: both files
// go into a temporary directory beside the target, each is fsynced, the directory is renamed to the
// target and the parent is fsynced. A reader sees the whole adapter or nothing; an existing target
// is an error (never replaced). Tensors are F32 `base_model.model.<module>.lora_{A,B}.weight`,
// and a reward model's trained score head as PEFT saves it (`RewardScoreHead`, with
// `modules_to_save: ["score"]` in the config).
import Glibc

/// One adapted module's LoRA pair, as written.
public struct LoRAWeightPair: Sendable, Equatable {
  /// The module path as the model names it (e.g. `model.language_model.layers.0.self_attn.q_proj`).
  public var module: String
  /// `(rank, inFeatures)` row-major.
  public var a: [Float]
  /// `(outFeatures, rank)` row-major.
  public var b: [Float]
  public var rank: Int
  public var inFeatures: Int
  public var outFeatures: Int

  public init(module: String, a: [Float], b: [Float], rank: Int, inFeatures: Int, outFeatures: Int)
  {
    self.module = module
    self.a = a
    self.b = b
    self.rank = rank
    self.inFeatures = inFeatures
    self.outFeatures = outFeatures
  }
}

public enum LoRAAdapterWriter {
  /// Writes a new adapter directory at `directory` (which must not exist); `head`: a reward
  /// model's trained score head (the config then says `modules_to_save: ["score"]`).
  public static func write(
    config: LoRAAdapterConfig,
    pairs: [LoRAWeightPair],
    head: RewardScoreHead? = nil,
    to directory: String
  ) throws(CheckpointError) {
    var config = config
    config.modulesToSave = head == nil ? [] : ["score"]
    let weights = try safetensors(pairs, rank: config.rank, head: head)
    let json = configJSON(config)
    let target = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    guard !target.isEmpty else { throw CheckpointError(.io, "empty adapter directory path") }
    var status = stat()
    if lstat(target, &status) == 0 {
      throw CheckpointError(.io, "\(target) already exists; an adapter is never overwritten")
    }
    let (parent, name) = FileIO.split(target)
    let temporary = FileIO.temporaryPath(parent: parent, name: name)
    guard mkdir(temporary, 0o755) == 0 else {
      throw CheckpointError(.io, "cannot create \(temporary): \(FileIO.reason())")
    }
    do throws(CheckpointError) {
      try FileIO.writeNewFile(FileIO.join(temporary, LoRAAdapter.configFileName), json)
      try FileIO.writeNewFile(FileIO.join(temporary, LoRAAdapter.weightsFileName), weights)
      try FileIO.sync(temporary, directory: true)
      // rename(2) onto an existing non-empty directory fails (ENOTEMPTY/EEXIST); the lstat above
      // refused an empty one.
      guard rename(temporary, target) == 0 else {
        throw CheckpointError(
          .io,
          "cannot rename \(temporary) to \(target): \(FileIO.reason())"
        )
      }
    } catch {
      removeTree(temporary)
      throw error
    }
    try FileIO.sync(parent, directory: true)
  }

  /// The safetensors bytes: F32 tensors sorted by name, the header padded to 8 bytes.
  public static func safetensors(
    _ pairs: [LoRAWeightPair],
    rank: Int,
    head: RewardScoreHead? = nil
  ) throws(CheckpointError) -> [UInt8] {
    var tensors: [(name: String, shape: [Int], values: [Float])] = []
    if let head {
      guard !head.weight.isEmpty else { throw adapterError("the score head has no weights") }
      tensors.append((RewardScoreHead.weightKey, [1, head.weight.count], head.weight))
      if let bias = head.bias { tensors.append((RewardScoreHead.biasKey, [1], [bias])) }
    }
    var modules = Set<String>()
    for pair in pairs {
      guard modules.insert(pair.module).inserted else {
        throw adapterError("module '\(pair.module)' is written twice")
      }
      guard pair.rank == rank, pair.a.count == rank * pair.inFeatures,
        pair.b.count == pair.outFeatures * rank
      else {
        throw adapterError(
          "module '\(pair.module)': lora_A has \(pair.a.count) values and lora_B \(pair.b.count); rank \(rank) needs [\(rank), \(pair.inFeatures)] and [\(pair.outFeatures), \(rank)]"
        )
      }
      let prefix = "base_model.model.\(pair.module)."
      tensors.append((prefix + "lora_A.weight", [rank, pair.inFeatures], pair.a))
      tensors.append((prefix + "lora_B.weight", [pair.outFeatures, rank], pair.b))
    }
    tensors.sort { $0.name < $1.name }
    return try SafeTensorsEncoder.bytes(tensors, metadata: ["format": "pt"])
  }

  /// `adapter_config.json` for `config` (keys sorted, as PEFT writes them).
  public static func configJSON(_ config: LoRAAdapterConfig) -> [UInt8] {
    let targets: String =
      switch config.targetModules {
      case .names(let names): "[" + names.map { JSONText.quoted($0) }.joined(separator: ", ") + "]"
      case .pattern(let pattern): JSONText.quoted(pattern)
      case .unspecified: "null"
      }
    let fields: [(String, String)] = [
      ("base_model_name_or_path", config.baseModelNameOrPath.map { JSONText.quoted($0) } ?? "null"),
      ("bias", "\"none\""),
      ("fan_in_fan_out", "false"),
      ("inference_mode", "true"),
      ("init_lora_weights", "true"),
      ("lora_alpha", "\(config.alpha)"),
      ("lora_dropout", "0.0"),
      (
        "modules_to_save",
        config.modulesToSave.isEmpty
          ? "null"
          : "[" + config.modulesToSave.map { JSONText.quoted($0) }.joined(separator: ", ") + "]"
      ),
      ("peft_type", "\"LORA\""),
      ("r", "\(config.rank)"),
      ("target_modules", targets),
      ("task_type", config.taskType.map { JSONText.quoted($0) } ?? "null"),
      ("use_dora", "false"),
      ("use_rslora", config.useRSLoRA ? "true" : "false"),
    ]
    let body = fields.map { "  \(JSONText.quoted($0.0)): \($0.1)" }.joined(separator: ",\n")
    return Array(("{\n" + body + "\n}\n").utf8)
  }

  /// Removes the temporary directory and the two files it may hold.
  static func removeTree(_ path: String) {
    for name in [LoRAAdapter.configFileName, LoRAAdapter.weightsFileName] {
      unlink(FileIO.join(path, name))
    }
    rmdir(path)
  }

}
