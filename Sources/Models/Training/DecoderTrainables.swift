// What a LoRA training run on the decoder trains, and where each tensor lives in the run's
// `TrainableParameters` (llm.c's parameter memory): per layer and adapted linear an A `(r, K)`
// and a B `(N, r)` segment, plus the scalar head's weight `(1, C)` (and bias `(1)`) for a reward
// or value model. `DecoderTrainables` is the typed view: the forward reads parameters through
// it, the backward writes gradients through the same segments (gradients are parallel to
// parameters in `TrainableParameters`).
public import Checkpoints
public import Engine

/// LoRA hyper-parameters (PEFT's `LoraConfig`).
public struct DecoderLoRASettings: Sendable, Equatable {
  /// The adapted linears of every layer (PEFT's `target_modules`).
  public var targets: [DecoderLinear]
  public var rank: Int
  public var alpha: Double
  public var useRSLoRA: Bool
  /// `lora_dropout`: the probability of zeroing an element of an adapter's input.
  public var dropout: Float

  public init(
    targets: [DecoderLinear] = DecoderLinear.allCases,
    rank: Int = 8,
    alpha: Double = 16,
    useRSLoRA: Bool = false,
    dropout: Float = 0
  ) {
    self.targets = targets
    self.rank = rank
    self.alpha = alpha
    self.useRSLoRA = useRSLoRA
    self.dropout = dropout
  }

  /// `alpha / r`, or `alpha / √r` with rsLoRA.
  public var scale: Float {
    Float(useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank))
  }

  /// The PEFT adapter config of these settings (for `DecoderAdapter`).
  public var adapterConfig: LoRAAdapterConfig {
    LoRAAdapterConfig(
      rank: rank,
      alpha: alpha,
      targetModules: .names(targets.map(\.moduleName)),
      useRSLoRA: useRSLoRA
    )
  }
}

/// The scalar head a reward or value model trains: `value = w · h (+ b)`.
public enum DecoderScoreHead: Sendable, Equatable {
  /// No head: a policy (its LM head stays frozen).
  case none
  /// Starts from the checkpoint's `score.weight` (and `score.bias` if it has one): the reward model.
  case checkpoint
  /// Starts at zero, with or without a bias: a fresh value head.
  case zero(bias: Bool)
}

/// The segments of one adapted linear.
public struct LoRASegments: Sendable, Equatable {
  public let a: TrainableParameters.Segment  // (r, K)
  public let b: TrainableParameters.Segment  // (N, r)
  public var rank: Int { a.shape[0] }
  public var inFeatures: Int { a.shape[1] }
  public var outFeatures: Int { b.shape[0] }
}

/// The typed map from the decoder's trainable tensors to `TrainableParameters` segments.
public struct DecoderTrainables: Sendable {
  public let settings: DecoderLoRASettings
  /// `lora[l][linear.rawValue]`: layer l's adapted linear, or nil.
  let lora: [[LoRASegments?]]
  /// The score head's weight `(1, C)` and bias `(1)`, when training one.
  public let head: TrainableParameters.Segment?
  public let headBias: TrainableParameters.Segment?
  /// Names and shapes, in buffer order: `TrainableParameters(tensors)`.
  public let tensors: [(name: String, shape: [Int])]

  init(config: LlamaTextConfig, settings: DecoderLoRASettings, headBias: Bool?) {
    let (C, I) = (config.hiddenSize, config.intermediateSize)
    let (q, kv) = (
      config.numAttentionHeads * config.headDim, config.numKeyValueHeads * config.headDim
    )
    let shapes: [DecoderLinear: (N: Int, K: Int)] = [
      .q: (q, C), .k: (kv, C), .v: (kv, C), .o: (C, q), .gate: (I, C), .up: (I, C), .down: (C, I),
    ]
    var tensors: [(name: String, shape: [Int])] = []
    for l in 0..<config.numHiddenLayers {
      for linear in DecoderLinear.allCases where settings.targets.contains(linear) {
        let (N, K) = shapes[linear]!
        let name = Self.moduleName(layer: l, linear: linear)
        tensors.append((name + ".lora_A.weight", [settings.rank, K]))
        tensors.append((name + ".lora_B.weight", [N, settings.rank]))
      }
    }
    if let headBias {
      tensors.append(("score.weight", [1, C]))
      if headBias { tensors.append(("score.bias", [1])) }
    }
    let segments = TrainableParameters.segments(tensors)
    var lora = Array(
      repeating: [LoRASegments?](repeating: nil, count: DecoderLinear.allCases.count),
      count: config.numHiddenLayers
    )
    var index = 0
    for l in 0..<config.numHiddenLayers {
      for linear in DecoderLinear.allCases where settings.targets.contains(linear) {
        lora[l][linear.rawValue] = LoRASegments(a: segments[index], b: segments[index + 1])
        index += 2
      }
    }
    self.settings = settings
    self.lora = lora
    self.head = headBias == nil ? nil : segments[index]
    self.headBias = headBias == true ? segments[index + 1] : nil
    self.tensors = tensors
  }

  /// PEFT's module path of a language-model linear (the prefix of its tensors' names).
  static func moduleName(layer: Int, linear: DecoderLinear) -> String {
    "language_model.layers.\(layer).\(linear.block).\(linear.moduleName)"
  }

  /// Layer `l`'s segments for `linear`, or nil when it is not adapted.
  public func segments(layer l: Int, _ linear: DecoderLinear) -> LoRASegments? {
    lora[l][linear.rawValue]
  }

  /// Every adapted linear, layer then target order.
  public var adapted: [(layer: Int, linear: DecoderLinear, segments: LoRASegments)] {
    lora.enumerated().flatMap { l, slots in
      DecoderLinear.allCases.compactMap { linear in slots[linear.rawValue].map { (l, linear, $0) } }
    }
  }
}
