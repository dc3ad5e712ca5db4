// A LoRA adapter set on the language model, as served: immutable, validated against the base
// weights once, converted once into owned buffers (fp32; bf16 when the file holds bf16, which is
// exact, or under `precision: bf16`), laid out
// per layer in the slots of the seven decoder linears (`DecoderLayerLoRA` mirrors
// `DecoderLayerParameters`). A policy version = the shared base weights + one of these; rows of
// many versions run in one batch (`DecoderBatchEntry.adapter`). PEFT's arithmetic
// (src/peft/tuners/lora/layer.py `Linear.forward`): `y = base(x) + scale · lora_B(lora_A(x))`.
public import Checkpoints
public import Engine

/// One decoder layer's LoRA weights: a slot per linear, nil where the adapter leaves it alone,
/// and the adapted linears of each input set with their A matrices stacked (`LoRAStack`: the
/// forward pass runs one A product per set; the slots' A matrices are views of the same rows).
public struct DecoderLayerLoRA: Sendable {
  var slots: [LoRAWeights?] = Array(repeating: nil, count: DecoderLinear.allCases.count)
  /// Per `inputSets` entry: its adapted linears, stacked; nil when it has none. A part's target
  /// is its linear's index in the set.
  var stacks: [LoRAStack?] = Array(repeating: nil, count: inputSets.count)

  /// The linears that read one input, each set in the order the forward pass passes their
  /// outputs: q, k, v (the normed stream), o, gate and up (the normed MLP input), down.
  static let inputSets: [[DecoderLinear]] = [[.q, .k, .v], [.o], [.gate, .up], [.down]]

  public subscript(_ linear: DecoderLinear) -> LoRAWeights? {
    get { slots[linear.rawValue] }
    set { slots[linear.rawValue] = newValue }
  }
}

/// An immutable LoRA adapter set over a `LlavaWeights` base (PEFT layout on disk).
///
/// `@unchecked Sendable`: the buffers are written only in `init` and freed in `deinit`.
public final class DecoderAdapter: @unchecked Sendable {
  /// rank, alpha, rsLoRA, target modules (as `adapter_config.json` said).
  public let config: LoRAAdapterConfig
  /// `layers[l][.q]`: the LoRA pair of layer `l`'s q_proj, or nil.
  public let layers: [DecoderLayerLoRA]
  /// Bytes of the owned A and B buffers, bf16 panels included under `precision: bf16` (the
  /// memory one version adds to the base).
  public let byteCount: Int
  /// The element type of the buffers: f32, or bf16 (an adapter file in bf16, whose values bf16
  /// holds exactly, or a base loaded with `precision: bf16`).
  public let dtype: WeightView.DType
  /// Where it was loaded from, if from a directory.
  public let directory: String?
  /// The decoder shape it was validated for (layers, hidden, MLP, q width, kv width).
  let baseShape: [Int]
  private let storage: UnsafeMutableRawPointer

  /// One adapted linear before conversion: PEFT's module path, A `(r, K)` and B `(N, r)`.
  public struct Pair: Sendable {
    public var layer: Int
    public var linear: DecoderLinear
    public var a: [Float]
    public var b: [Float]

    public init(layer: Int, linear: DecoderLinear, a: [Float], b: [Float]) {
      self.layer = layer
      self.linear = linear
      self.a = a
      self.b = b
    }
  }

  /// Loads and validates a PEFT adapter directory (`adapter_config.json`,
  /// `adapter_model.safetensors`) for `base`.
  public convenience init(directory: String, base: LlavaWeights) throws(ModelError) {
    let adapter: LoRAAdapter
    do { adapter = try LoRAAdapter(directory: directory) } catch {
      throw .adapter("\(directory): \(error.message)")
    }
    try self.init(adapter: adapter, base: base, directory: directory)
  }

  /// Validates a parsed adapter against `base` and converts it. A trained score head
  /// (`modules_to_save: ["score"]`) is refused unless `base` is a reward model; it is not part
  /// of the result (`adapter.head` holds it; the reward runner serves it with the LoRA).
  public convenience init(
    adapter: LoRAAdapter,
    base: LlavaWeights,
    directory: String? = nil
  ) throws(ModelError) {
    if adapter.config.savesScoreHead && base.head != .reward {
      throw .adapter(
        "\(adapter.file.path): modules_to_save \(adapter.config.modulesToSave) carries a trained score head, which only a reward model has; a policy adapter must hold LoRA pairs only (modules_to_save null)"
      )
    }
    var pairs: [Pair] = []
    for delta in adapter.deltas {
      guard let (layer, linear) = Self.decoderTarget(delta.target) else {
        throw .adapter(
          "\(adapter.file.path): module '\(delta.module)' is not one of the language model's"
            + " q/k/v/o/gate/up/down_proj; LoRA on the vision tower, the projector or a head is"
            + " not supported"
        )
      }
      do {
        pairs.append(
          Pair(layer: layer, linear: linear, a: try delta.a.floats(), b: try delta.b.floats())
        )
      } catch { throw .adapter(error.message) }
    }
    let bf16 = adapter.deltas.allSatisfy { $0.a.dtype == .bf16 && $0.b.dtype == .bf16 }
    try self.init(
      config: adapter.config,
      pairs: pairs,
      base: base,
      directory: directory,
      dtype: bf16 ? .bf16 : nil
    )
  }

  /// An adapter from values: `pairs` must fit `base` (shapes `(r, K)` and `(N, r)`, r =
  /// `config.rank`, each (layer, linear) at most once). `dtype`: the buffers' element type
  /// (default: bf16 under `precision: bf16`, else f32); values are rounded to it.
  public init(
    config: LoRAAdapterConfig,
    pairs: [Pair],
    base: LlavaWeights,
    directory: String? = nil,
    dtype: WeightView.DType? = nil
  ) throws(ModelError) {
    let layerCount = base.decoder.layers.count
    let r = config.rank
    var seen = Set<Int>()
    for pair in pairs {
      guard pair.layer >= 0 && pair.layer < layerCount else {
        throw .adapter("layer \(pair.layer) \(pair.linear): the base has \(layerCount) layers")
      }
      guard seen.insert(pair.layer * 8 + pair.linear.rawValue).inserted else {
        throw .adapter("layer \(pair.layer) \(pair.linear) is adapted twice")
      }
      let target = base.decoder.layers[pair.layer][pair.linear]
      let (N, K) = (target.outFeatures, target.inFeatures)
      guard pair.a.count == r * K, pair.b.count == N * r else {
        throw .adapter(
          "layer \(pair.layer) \(pair.linear): the base weight is [\(N), \(K)], so rank \(r)"
            + " needs lora_A [\(r), \(K)] and lora_B [\(N), \(r)]; got \(pair.a.count) and"
            + " \(pair.b.count) values"
        )
      }
      guard pair.a.allSatisfy(\.isFinite), pair.b.allSatisfy(\.isFinite) else {
        throw .adapter("layer \(pair.layer) \(pair.linear): lora_A or lora_B is not finite")
      }
    }
    let dtype: WeightView.DType = dtype ?? (base.precision == .bf16 ? .bf16 : .f32)
    guard dtype != .f16 else { throw .adapter("f16 adapter buffers are not supported") }
    self.config = config
    self.baseShape = Self.shape(of: base.config.text)
    self.dtype = dtype
    self.directory = directory
    let layout = Layout(
      pairs: pairs,
      base: base,
      rank: r,
      scale: Float(config.scale),
      dtype: dtype,
      // Under `precision: bf16` the A and B matrices also get bf16 panels, so that their
      // products take `BF16Products` like the base's (the plain copy stays for `pairs` and the
      // writer).
      packs: base.precision == .bf16 && dtype == .bf16
    )
    byteCount = layout.byteCount
    storage = layout.storage
    layers = layout.layers
  }

  deinit { storage.deallocate() }

  /// The adapted linears, in layer then target order, with A and B as fp32 values (what
  /// `LoRAAdapterWriter` writes).
  public var pairs: [Pair] {
    var list: [Pair] = []
    for (l, layer) in layers.enumerated() {
      for linear in DecoderLinear.allCases {
        guard let lora = layer[linear] else { continue }
        list.append(Pair(layer: l, linear: linear, a: Self.floats(lora.a), b: Self.floats(lora.b)))
      }
    }
    return list
  }

  static func floats(_ view: WeightView) -> [Float] {
    [Float](unsafeUninitializedCapacity: view.count) { buffer, count in
      view.convertRows(0..<view.rows, into: buffer.baseAddress!)
      count = view.count
    }
  }

  /// What an adapter must agree on with a decoder to run on it.
  static func shape(of t: LlamaTextConfig) -> [Int] {
    [
      t.numHiddenLayers, t.hiddenSize, t.intermediateSize, t.numAttentionHeads * t.headDim,
      t.numKeyValueHeads * t.headDim,
    ]
  }

  /// `text.layers.<l>.<self_attn|mlp>.<x>_proj.weight` → (l, x); nil for any other tensor.
  static func decoderTarget(_ canonical: String) -> (Int, DecoderLinear)? {
    let parts = canonical.split(separator: ".").map(String.init)
    guard parts.count == 6, parts[0] == "text", parts[1] == "layers", parts[5] == "weight",
      let layer = Int(parts[2]),
      let linear = DecoderLinear.allCases.first(where: {
        $0.block == parts[3] && $0.moduleName == parts[4]
      })
    else { return nil }
    return (layer, linear)
  }
}
